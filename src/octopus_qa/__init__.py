"""Contract and load testing for the Octopus Cards API, with a local sandbox that serves it."""

__version__ = "0.1.0"
