#!/usr/bin/env bash
# Placeholder until the Promela model lands.
exit 0
