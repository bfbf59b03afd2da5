"""The Locust scenario and its data; shipped inside octoqa as `octopus_qa.bundled.load`.

`locustfile.py` is who uses the API and how often; everything else it runs on (options, the run
plan, tokens, validation, shapes, the gates) is package code in `octopus_qa.loadtest`.
"""
