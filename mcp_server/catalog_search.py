"""`search_catalog`: find marts, columns, business rules and analyses by what they mean.

A warehouse an agent has not seen is easier to search than to list: "where is the payment
method?" should land on `fct_revenue_by_payment_method.payment_method` without reading every
mart. The corpus is what a person reads in dbt docs (mart and column descriptions, tests, the
business-rule docs blocks) plus the analysis templates; it is ranked by TF-IDF cosine similarity
(scikit-learn, already here for the analyses) over words and word pieces, so `churned`,
`churn` and `churn_rate` meet. The index is rebuilt when the marts or the manifest change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

from analyses.registry import ANALYSES
from mcp_server.catalog import Mart
from mcp_server.resources.dictionary import business_rules
from mcp_server.resources.marts import mart_uri


@dataclass(frozen=True)
class CatalogEntry:
    kind: str  # mart | column | rule | analysis
    name: str
    summary: str
    uri: str | None
    text: str


def catalog_entries(marts: dict[str, Mart], manifest_path: Path | None) -> list[CatalogEntry]:
    entries: list[CatalogEntry] = []
    for mart in sorted(marts.values(), key=lambda m: m.name):
        entries.append(
            CatalogEntry(
                "mart",
                mart.name,
                f"{mart.grain}: {mart.description}",
                mart_uri(mart.name),
                f"{_words(mart.name)} {mart.grain} {mart.description}",
            )
        )
        for column in mart.columns:
            name = f"{mart.name}.{column.name}"
            entries.append(
                CatalogEntry(
                    "column",
                    name,
                    f"{column.type}: {column.description}",
                    mart_uri(mart.name),
                    f"{_words(column.name)} {_words(column.name)} {column.description} "
                    f"{' '.join(column.tests)} {_words(mart.name)}",
                )
            )
    if manifest_path is not None and manifest_path.exists():
        for name, text in business_rules(manifest_path):
            entries.append(
                CatalogEntry("rule", name, text, "docs://data_dictionary", f"{_words(name)} {text}")
            )
    for spec in ANALYSES.values():
        inputs = " ".join(f"{f.name} {' '.join(f.columns)} {f.description}" for f in spec.frames)
        parameters = " ".join(f"{p.name} {p.description}" for p in spec.parameters.values())
        entries.append(
            CatalogEntry(
                "analysis",
                spec.name,
                f"{spec.title}: {spec.description}",
                f"templates://analysis/{spec.name}",
                f"{_words(spec.name)} {spec.title} {spec.description} {spec.brief} {inputs} {parameters}",
            )
        )
    return entries


def _words(name: str) -> str:
    """`fct_customer_churn_monthly` -> "fct customer churn monthly" (names match word queries)."""
    return re.sub(r"[_.]+", " ", name)


class CatalogIndex:
    """The entries and their TF-IDF vectors: words, and 3-5 letter pieces of words."""

    def __init__(self, entries: list[CatalogEntry]) -> None:
        self.entries = entries
        self._vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        self._words = TfidfVectorizer(analyzer="word", sublinear_tf=True, token_pattern=r"[a-z0-9]+")
        texts = [entry.text.lower() for entry in entries] or [""]
        self._pieces_matrix = self._vectorizer.fit_transform(texts)
        self._words_matrix = self._words.fit_transform(texts)

    def search(self, text: str) -> list[tuple[CatalogEntry, float]]:
        """Every entry that shares anything with `text`, best first (ties by kind, then name)."""
        query = text.lower()
        scores = 0.4 * linear_kernel(self._vectorizer.transform([query]), self._pieces_matrix)[0]
        scores += 0.6 * linear_kernel(self._words.transform([query]), self._words_matrix)[0]
        ranked = sorted(
            (
                (entry, float(score))
                for entry, score in zip(self.entries, scores, strict=False)
                if score > 0.05
            ),
            key=lambda pair: (-round(pair[1], 6), pair[0].kind, pair[0].name),
        )
        return ranked
