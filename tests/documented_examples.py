"""The documents' own example products, verbatim from products-api.txt.

The catalog must carry them as documented and the sandbox must serve them so: one copy here for
both test modules.
"""

from __future__ import annotations

#: products-api.txt, List Products: the two example entries, verbatim.
LIST_ENTRIES = {
    1001: {
        "id": 1001,
        "name": "Amazon Gift Card - USD",
        "category": "Gift Cards",
        "sub_category": "E-commerce",
        "country_code": "USA",
        "currency_code": "USD",
        "image_url": "https://cdn.octopus.com/products/amazon-gc.jpg",
        "delivery_mode": "Digital",
        "delivery_time": "Instant",
        "validity": "No expiry",
        "available_denominations": [{"min_value": 10.00, "max_value": 500.00, "discount": 2.5}],
    },
    2001: {
        "id": 2001,
        "name": "Google Play Gift Card - USD",
        "category": "Gift Cards",
        "sub_category": "Digital Entertainment",
        "country_code": "USA",
        "currency_code": "USD",
        "image_url": "https://cdn.octopus.com/products/google-play.jpg",
        "delivery_mode": "Digital",
        "delivery_time": "Instant",
        "validity": "No expiry",
        "available_denominations": [{"min_value": 5.00, "max_value": 100.00, "discount": 1.8}],
    },
}
#: products-api.txt, Get Product Details: what 1001's detail adds to its list entry, verbatim.
DETAIL_FIELDS_1001 = {
    "terms": "Redeemable on Amazon.com. Cannot be resold or transferred for cash. Gift card will not be replaced if lost, stolen, or used without permission.",
    "details": "Digital gift card for Amazon.com purchases. Valid for millions of items across all categories. Perfect for personal use or as a gift.",
    "how_to_use": "1. Add items to your Amazon cart\n2. Proceed to checkout\n3. Enter gift card code in the payment section\n4. Complete your purchase",
}
#: products-api.txt, Get Product Details: the documented response for 1001.
DETAIL_1001 = LIST_ENTRIES[1001] | DETAIL_FIELDS_1001
