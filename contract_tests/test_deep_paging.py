"""Many pages of a small size (L7): page 21 must hold what follows page 20, as page 2 does.

The whole-catalog walks use pages of 1,000 or more and the paging edges probe the first and last
pages; offset arithmetic, page caches and cursors go wrong further in. Each profile walks the
default listing `deep_walk_pages` pages deep at each of its `deep_walk_limits` page sizes: the
pages must hold each product of that stretch exactly once.
"""

from __future__ import annotations

import pytest

from octopus_qa import rules
from octopus_qa.contract.client import ApiClient
from octopus_qa.contract.fixtures import LIST
from octopus_qa.contract.suite import Suite


@pytest.mark.rule("pages-partition-listing")
def test_pages_deep_into_a_listing_partition_it(api: ApiClient, suite: Suite) -> None:
    for limit in suite.profile.deep_walk_limits:
        pages = []
        for page in range(1, suite.profile.deep_walk_pages + 1):
            exchange = api.get(LIST, params={"page": page, "limit": limit})
            rules.expect_status(exchange, 200, "limit-bounds", f"GET {LIST}?limit={limit}")
            pages.append(exchange.json)
            if len(exchange.json) < limit:  # the listing ended before the walk did
                break
        total = int(exchange.headers["x-total-count"])
        walked = min(total, limit * len(pages))
        what = f"the default listing, {len(pages)} pages of {limit}"
        rules.pages_partition_listing(pages, walked, what)
