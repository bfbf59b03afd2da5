"""The hand-written contract; shipped inside octoqa as `octopus_qa.bundled.openapi`."""
