#!/usr/bin/env python3
"""Validates CycloneDX JSON documents against bom-1.5 (with its spdx and jsf references).

usage: validate_cyclonedx.py SCHEMA_DIR BOM.json...   exit 0 valid, 1 invalid, 2 cannot run
The schema files come from the npm package @cyclonedx/cyclonedx-library (res/schema/)."""
import json
import os
import sys
import warnings

warnings.simplefilter("ignore")
try:
    import jsonschema
except ImportError:
    print("python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(2)

schema_dir = sys.argv[1]
store = {}
main = None
for name in os.listdir(schema_dir):
    if not name.endswith(".json"):
        continue
    with open(os.path.join(schema_dir, name)) as f:
        doc = json.load(f)
    # Relative $refs resolve against the main schema's $id directory.
    store["http://cyclonedx.org/schema/" + name] = doc
    if "$id" in doc:
        store[doc["$id"]] = doc
    if name.startswith("bom-1.5") and "strict" not in name:
        main = doc
if main is None:
    print("no bom-1.5 schema in " + schema_dir, file=sys.stderr)
    sys.exit(2)
resolver = jsonschema.RefResolver.from_schema(main, store=store)
validator = jsonschema.Draft7Validator(main, resolver=resolver)
bad = 0
for path in sys.argv[2:]:
    with open(path) as f:
        bom = json.load(f)
    errors = sorted(validator.iter_errors(bom), key=lambda e: list(e.path))
    for e in errors:
        print("%s: %s: %s" % (path, "/".join(str(p) for p in e.path), e.message))
    bad += len(errors)
print("%d document(s), %d error(s)" % (len(sys.argv) - 2, bad))
sys.exit(1 if bad else 0)
