"""Validation: rules yield Findings, a profile selects rules, a Report holds the verdict."""
