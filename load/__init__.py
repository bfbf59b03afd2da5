"""The Locust scenario and its data; shipped inside octoqa as `octopus_qa.bundled.load`.

Locust puts this directory on `sys.path` when it loads `locustfile.py`, so the helpers beside it
are imported by their own names (`shapes`, `tokens`, `validation`), from a checkout or a wheel.
"""
