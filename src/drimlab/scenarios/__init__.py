"""Homologation scenarios as data, their runner, evidence bundles and the monitor's check.

schema    the shape of a scenario definition (typed, checked field by field)
loader    the shipped definitions (definitions/*.yaml) and a vendor's own
runs      runs and step states in the store; evidence files kept with their SHA-256
actions   what drimlab does in a step (retrieve, probes, serve, whitelist)
runner    interactive and unattended runs, resumable
junit     a run as JUnit XML
bundle    the signed evidence bundle (zip)
signing   signing and checking the manifest
monitor   verify a bundle: VERIFIED, PARTIALLY_VERIFIED or FAILED
summary   HTML pages of a run and of a verification
"""
