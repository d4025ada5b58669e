"""Public disclosure: overview pages, provenance, maps, daily bulletin, open data, errata, scorecard."""
