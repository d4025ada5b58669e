"""Countering misinformation: a registry of claims and verdicts, a fast matcher, public pages and a feed."""
