"""The sandbox's product catalog: deterministic data, served fast.

`build_catalog(seed)` draws the same 10,500 products for the same seed (different ones for
another seed) over every country pycountry knows that has a currency in babel's CLDR tables, so
listing, filtering, sorting and paging have real work to do. The documents' own example products
(1001 and 2001 in products-api.txt) are always present exactly as documented; the rest is
dressing drawn from `catalog.toml`.

Speed is part of the job: the sandbox must serve a page at close to the rate of a bare handler
returning fixed bytes. So each product's list entry is serialised to JSON once, each (filters,
sort) result is cached as a tuple, and a page is a join of ready-made byte strings.
"""

from __future__ import annotations

import json
import random
import tomllib
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from itertools import accumulate
from typing import Any, NamedTuple, TypeVar

import pycountry
from babel.numbers import get_territory_currencies

__all__ = ["Catalog", "Denomination", "Product", "build_catalog"]

DEFAULT_SIZE = 10_500
#: L5 names id and name; the other codes sort too (plain comparison, like rules.items_are_sorted).
SORTABLE_FIELDS = frozenset({"id", "name", "category", "country_code", "currency_code"})
#: The optional fields only the detail carries (products-api.txt, ASSUMPTIONS P3).
OPTIONAL_FIELDS = ("terms", "details", "how_to_use")
#: How many distinct (filters, sort) results to keep; random filter values from fuzzing must
#: not grow the cache without bound.
QUERY_CACHE_SIZE = 1024

T = TypeVar("T")

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


# --- The data model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Denomination:
    """One purchasable range with its discount percentage (ASSUMPTIONS P2)."""

    min_value: float
    max_value: float
    discount: float

    def as_dict(self) -> dict[str, float]:
        return {"min_value": self.min_value, "max_value": self.max_value, "discount": self.discount}

    def contains(self, value: float) -> bool:
        return self.min_value <= value <= self.max_value

    def json(self) -> str:
        """The JSON object, amounts written with two decimals as the documents write them."""
        return (
            f'{{"min_value":{self.min_value:.2f},"max_value":{self.max_value:.2f},'
            f'"discount":{float(self.discount)!r}}}'
        )


@dataclass(frozen=True)
class Product:
    """One product; the field names are the documented ones (products-api.txt)."""

    id: int
    name: str
    category: str
    sub_category: str
    country_code: str
    currency_code: str
    image_url: str
    delivery_mode: str
    delivery_time: str
    validity: str
    available_denominations: tuple[Denomination, ...]
    terms: str | None = None
    details: str | None = None
    how_to_use: str | None = None
    #: Units available: sandbox-internal, never serialised.
    stock: int = field(kw_only=True)

    def _head(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "sub_category": self.sub_category,
            "country_code": self.country_code,
            "currency_code": self.currency_code,
            "image_url": self.image_url,
            "delivery_mode": self.delivery_mode,
            "delivery_time": self.delivery_time,
            "validity": self.validity,
        }

    def _optional(self) -> dict[str, str]:
        return {name: value for name in OPTIONAL_FIELDS if (value := getattr(self, name))}

    def list_entry(self) -> dict[str, Any]:
        """The product as the list shows it: without terms, details and how_to_use."""
        entry = self._head()
        entry["available_denominations"] = [d.as_dict() for d in self.available_denominations]
        return entry

    def detail(self) -> dict[str, Any]:
        """The product as its detail shows it: the list entry plus the optional fields set (P3)."""
        entry = self._head() | self._optional()
        entry["available_denominations"] = [d.as_dict() for d in self.available_denominations]
        return entry

    def _json(self, fields: dict[str, Any]) -> bytes:
        """Fields then the denominations, in the documents' order, compact UTF-8 JSON."""
        ranges = ",".join(d.json() for d in self.available_denominations)
        head = _ENCODER.encode(fields)[:-1]
        return f'{head},"available_denominations":[{ranges}]}}'.encode()

    def list_json(self) -> bytes:
        return self._json(self._head())

    def detail_json(self) -> bytes:
        return self._json(self._head() | self._optional())


# --- The catalog --------------------------------------------------------------------------------


def _sort_key(field_name: str) -> Callable[[Product], Any]:
    """L5: ids numerically, names case-insensitively (str.casefold); other codes as they are."""
    if field_name == "name":
        return lambda product: product.name.casefold()
    return lambda product: getattr(product, field_name)


class Catalog:
    """Products by id, their filtered and sorted listings, and their JSON, all precomputed or
    cached so a request costs a dictionary lookup and a join."""

    sortable_fields: frozenset[str] = SORTABLE_FIELDS

    def __init__(self, products: Sequence[Product]) -> None:
        ordered = sorted(products, key=lambda product: product.id)
        self._by_id = {product.id: product for product in ordered}
        if len(self._by_id) != len(ordered):
            raise ValueError("product ids must be unique")
        self._products = tuple(ordered)
        # Keyed by object identity, not product id: a product that is not this catalog's own (a
        # fault's altered copy, say) must be serialised as it is, never as the stored original.
        self._list_json = {id(product): product.list_json() for product in ordered}
        self._detail_json: dict[int, bytes] = {}
        self._categories = tuple(sorted({p.category for p in ordered}))
        self._countries = tuple(sorted({p.country_code for p in ordered}))
        self._currencies = tuple(sorted({p.currency_code for p in ordered}))
        # lru_cache on the methods themselves would share one cache across catalogs and keep
        # them all alive (ruff B019); wrapped per instance, each catalog has its own.
        self._sorted = lru_cache(maxsize=None)(self._sort_all)
        self._query = lru_cache(maxsize=QUERY_CACHE_SIZE)(self._filter_sorted)

    def __len__(self) -> int:
        return len(self._products)

    @property
    def products(self) -> tuple[Product, ...]:
        """Every product, by id ascending."""
        return self._products

    @property
    def categories(self) -> tuple[str, ...]:
        return self._categories

    @property
    def countries(self) -> tuple[str, ...]:
        """The ISO 3166-1 alpha-3 codes products carry, sorted."""
        return self._countries

    @property
    def currencies(self) -> tuple[str, ...]:
        """The ISO 4217 codes products carry, sorted."""
        return self._currencies

    def get(self, product_id: int) -> Product | None:
        return self._by_id.get(product_id)

    def query(
        self,
        *,
        category: str | None = None,
        country: str | None = None,
        currency: str | None = None,
        sort_field: str = "id",
        descending: bool = True,
    ) -> tuple[Product, ...]:
        """Products matching every given filter exactly (L6), sorted (L5, default id DESC).

        Ties keep id-ascending order, so repeated calls page through the same sequence (L7).
        An unknown sort field is the caller's bug (the app answers 400 first): ValueError.
        """
        if sort_field not in SORTABLE_FIELDS:
            raise ValueError(f"cannot sort on {sort_field!r}; sortable: {sorted(SORTABLE_FIELDS)}")
        return self._query(category, country, currency, sort_field, bool(descending))

    def _sort_all(self, sort_field: str, descending: bool) -> tuple[Product, ...]:
        return tuple(sorted(self._products, key=_sort_key(sort_field), reverse=descending))

    def _filter_sorted(
        self,
        category: str | None,
        country: str | None,
        currency: str | None,
        sort_field: str,
        descending: bool,
    ) -> tuple[Product, ...]:
        products = self._sorted(sort_field, descending)
        if category is not None:
            products = tuple(p for p in products if p.category == category)
        if country is not None:
            products = tuple(p for p in products if p.country_code == country)
        if currency is not None:
            products = tuple(p for p in products if p.currency_code == currency)
        return products

    def page_json(self, products: Sequence[Product], page: int, limit: int) -> bytes:
        """The JSON array of page `page` (1-based) of `limit` items; past the end, `[]` (L3)."""
        if page < 1 or limit < 1:
            raise ValueError(f"page and limit start at 1, got page={page} limit={limit}")
        start = (page - 1) * limit
        return self.items_json(products[start : start + limit])

    def items_json(self, items: Sequence[Product]) -> bytes:
        """The JSON array of these products' list entries."""
        stored = self._list_json.get
        chunk = [stored(id(p)) or p.list_json() for p in items]
        if not chunk:
            return b"[]"
        # Bracket the end items rather than the joined result: one big copy instead of three.
        chunk[0] = b"[" + chunk[0]
        chunk[-1] = chunk[-1] + b"]"
        return b",".join(chunk)

    def detail_json(self, product: Product) -> bytes:
        """The product's detail JSON, serialised on first request and kept (if it is ours)."""
        if self._by_id.get(product.id) is not product:
            return product.detail_json()
        cached = self._detail_json.get(product.id)
        if cached is None:
            cached = self._detail_json[product.id] = product.detail_json()
        return cached

    def is_available(self, product: Product, denomination: float, quantity: int) -> bool:
        """False outside every range (P5); inside one, whether `quantity` units are in stock."""
        in_range = any(d.contains(denomination) for d in product.available_denominations)
        return in_range and 0 < quantity <= product.stock


# --- Reference data (pure, read-only: cached once per process) ----------------------------------


class Country(NamedTuple):
    alpha_3: str
    name: str
    currency_code: str


@cache
def countries_with_currency() -> tuple[Country, ...]:
    """Every ISO 3166-1 country with a current legal-tender ISO 4217 currency.

    babel (CLDR) knows which currency a territory uses; pycountry knows which codes ISO 4217
    lists. The first tender currency both agree on wins; a territory with none is skipped.
    """
    known_currencies = {currency.alpha_3 for currency in pycountry.currencies}
    found = []
    for country in pycountry.countries:
        tender = get_territory_currencies(country.alpha_2, tender=True)
        currency = next((code for code in tender if code in known_currencies), None)
        if currency is not None:
            # "Bolivia" rather than "Bolivia, Plurinational State of" where ISO has a short name.
            name = getattr(country, "common_name", None) or country.name
            found.append(Country(country.alpha_3, name, currency))
    return tuple(found)


def _ascii_slug(text: str) -> str:
    """An ASCII file-name stem ("Étoile Boutique" → "etoile-boutique") for image URLs."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(ch if ch.isalnum() else " " for ch in ascii_text.lower()).split())


@dataclass(frozen=True)
class Brand:
    name: str
    sub_category: str
    image_stem: str  # image_base + slug + "-": computed once, not per product


@dataclass(frozen=True)
class Category:
    name: str
    noun: str
    weight: float
    physical_share: float
    brands: tuple[Brand, ...]


class StockBand(NamedTuple):
    share: float
    low: int
    high: int


@dataclass(frozen=True)
class CatalogData:
    """catalog.toml, typed."""

    id_space: int
    name_patterns: tuple[str, ...]
    stock_bands: tuple[StockBand, ...]
    denominations: dict[str, Any]
    delivery: dict[str, tuple[str, ...]]
    optional: dict[str, tuple[float, str]]
    categories: tuple[Category, ...]
    documented: tuple[dict[str, Any], ...]


@cache
def catalog_data() -> CatalogData:
    """The dressing the catalog draws from (catalog.toml), read once per process."""
    raw = tomllib.loads(
        resources.files(__package__).joinpath("catalog.toml").read_text(encoding="utf-8")
    )
    image_base = raw["image_base"]
    categories = tuple(
        Category(
            name=entry["name"],
            noun=entry["noun"],
            weight=float(entry["weight"]),
            physical_share=float(entry["physical_share"]),
            brands=tuple(
                Brand(name, sub, f"{image_base}{_ascii_slug(name)}-")
                for name, sub in entry["brands"]
            ),
        )
        for entry in raw["category"]
    )
    return CatalogData(
        id_space=raw["id_space"],
        name_patterns=tuple(raw["name_patterns"]),
        stock_bands=tuple(StockBand(**band) for band in raw["stock"]),
        denominations=raw["denominations"],
        delivery={key: tuple(values) for key, values in raw["delivery"].items()},
        optional={name: (opt["share"], opt["template"]) for name, opt in raw["optional"].items()},
        categories=categories,
        documented=tuple(raw["documented"]),
    )


# --- Drawing products ---------------------------------------------------------------------------


def documented_products() -> tuple[Product, ...]:
    """The example products of products-api.txt, exactly as documented."""
    products = []
    for entry in catalog_data().documented:
        fields = dict(entry)
        ranges = tuple(Denomination(**r) for r in fields.pop("available_denominations"))
        stock = fields.pop("stock")
        products.append(Product(**fields, available_denominations=ranges, stock=stock))
    return tuple(products)


class _Draw:
    """One seeded random source and the choices the catalog draws from it.

    Choices index with `random()` rather than `Random.choice`: drawing 10,500 products makes
    about 100,000 choices, and this halves their cost (the contract suite starts ~40 sandboxes).
    """

    def __init__(self, seed: int, data: CatalogData) -> None:
        self.rng = random.Random(seed)
        self.random = self.rng.random
        self.data = data
        self._category_weights = list(accumulate(c.weight for c in data.categories))
        self._stock_weights = list(accumulate(band.share for band in data.stock_bands))

    def pick(self, options: Sequence[T]) -> T:
        return options[int(self.random() * len(options))]

    def weighted(self, cumulative: list[float]) -> int:
        return bisect_right(cumulative, self.random() * cumulative[-1])

    def category(self) -> Category:
        return self.data.categories[self.weighted(self._category_weights)]

    def stock(self) -> int:
        band = self.data.stock_bands[self.weighted(self._stock_weights)]
        return band.low + int(self.random() * (band.high - band.low + 1))

    def denominations(self) -> tuple[Denomination, ...]:
        """1..3 ascending, non-overlapping ranges in cents (P2: min ≤ max, discount 0..100)."""
        spec = self.data.denominations
        ranges = []
        floor = 0
        for _ in range(self.pick(spec["range_counts"])):
            low = floor + 100 * self.pick(spec["minimums"])
            if self.random() < spec["cents_share"]:
                low -= 1
            high = low * self.pick(spec["spans"])
            discount = (
                0.0
                if self.random() < spec["zero_discount_share"]
                else round(0.1 + self.random() * (spec["max_discount"] - 0.1), 1)
            )
            ranges.append(Denomination(low / 100, high / 100, discount))
            floor = high
        return tuple(ranges)

    def product(self, product_id: int, country: Country) -> Product:
        data = self.data
        category = self.category()
        brand = self.pick(category.brands)
        physical = self.random() < category.physical_share
        delivery_time = self.pick(
            data.delivery["physical_times"] if physical else data.delivery["digital_times"]
        )
        words = {
            "brand": brand.name,
            "noun": category.noun,
            "country": country.name,
            "currency": country.currency_code,
            "delivery_time_lower": delivery_time.lower(),
        }
        optional = {
            name: template.format_map(words) if self.random() < share else None
            for name, (share, template) in data.optional.items()
        }
        return Product(
            id=product_id,
            name=self.pick(data.name_patterns).format_map(words),
            category=category.name,
            sub_category=brand.sub_category,
            country_code=country.alpha_3,
            currency_code=country.currency_code,
            image_url=f"{brand.image_stem}{country.alpha_3.lower()}.jpg",
            delivery_mode="Physical" if physical else "Digital",
            delivery_time=delivery_time,
            validity=self.pick(data.delivery["validity"]),
            available_denominations=self.denominations(),
            stock=self.stock(),
            **optional,
        )


def build_catalog(seed: int = 0, size: int = DEFAULT_SIZE) -> Catalog:
    """A catalog of `size` products (the documented examples among them), the same per seed."""
    data = catalog_data()
    documented = documented_products()
    if size < len(documented):
        raise ValueError(f"a catalog holds at least the {len(documented)} documented products")
    draw = _Draw(seed, data)
    reserved = {product.id for product in documented}
    # Draw `size` ids so that, even after dropping the reserved ones, enough remain.
    candidates = draw.rng.sample(range(1, data.id_space + 1), size)
    ids = [i for i in candidates if i not in reserved][: size - len(documented)]
    countries = countries_with_currency()
    # Every country gets products (round-robin first), then the rest are drawn at random.
    places = [countries[i % len(countries)] for i in range(min(len(ids), len(countries)))]
    places += draw.rng.choices(countries, k=len(ids) - len(places))
    drawn = [draw.product(pid, place) for pid, place in zip(ids, places, strict=True)]
    return Catalog([*documented, *drawn])
