"""Matching markets across venues: see :class:`predarb.matching.matcher.Matcher`."""
