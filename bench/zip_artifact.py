"""Builds a Lambda deployment zip the way `zip -r9` would, and prints its size as JSON.

    zip_artifact.py OUT.zip [--exclude NAME,...] SRC[=ARCNAME] ...

A file SRC goes in as ARCNAME (default: its base name), executable bits kept; a directory SRC puts its
contents at the zip's root (a `pip install --target` directory, as Lambda expects). `--exclude` drops
top-level entries whose name is NAME or starts with NAME followed by `-` or `.` (a package and its
dist-info). `__pycache__` directories are never included. Prints {"zipped": bytes, "unzipped": bytes,
"files": n}. Both sides of `make bench` are zipped by this one script, so the comparison is the same
compressor at the same level.
"""

import json
import os
import sys
import zipfile


def excluded(top, names):
    return any(top == n or top.startswith(n + "-") or top.startswith(n + ".") for n in names)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, rest = argv[1], argv[2:]
    exclude = []
    if rest[0] == "--exclude":
        exclude = [n for n in rest[1].split(",") if n]
        rest = rest[2:]
    unzipped = files = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for spec in rest:
            src, _, arc = spec.partition("=")
            if os.path.isfile(src):
                z.write(src, arc or os.path.basename(src))
                unzipped += os.path.getsize(src)
                files += 1
                continue
            for root, dirs, names in os.walk(src):
                rel = os.path.relpath(root, src)
                if rel == ".":
                    dirs[:] = [d for d in dirs if not excluded(d, exclude)]
                    names = [n for n in names if not excluded(n, exclude)]
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for n in sorted(names):
                    path = os.path.join(root, n)
                    z.write(path, os.path.normpath(os.path.join(rel, n)))
                    unzipped += os.path.getsize(path)
                    files += 1
    print(json.dumps({"zipped": os.path.getsize(out), "unzipped": unzipped, "files": files}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
