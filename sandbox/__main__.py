"""Command line: ``python -m sandbox generate ...`` writes a seed file; ``python -m sandbox serve ...``
serves both sandbox APIs on loopback until interrupted."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _generate(args: argparse.Namespace) -> None:
    from sandbox.generator import generate_school

    doc = generate_school(
        size=args.size,
        seed=args.seed,
        in_sentral=args.in_sentral,
        as_of=args.as_of,
        audit_days=args.audit_days,
        name=args.name,
    )
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    if args.output == "-":
        sys.stdout.write(text + "\n")
        return
    Path(args.output).write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.output}: {len(doc['enrolhq']['applications'])} applications")


def _serve(args: argparse.Namespace) -> None:
    from sandbox.generator import generate_school
    from sandbox.testing import SandboxServers

    if args.seed:
        seed_doc = json.loads(Path(args.seed).read_text(encoding="utf-8"))
    else:
        seed_doc = generate_school(size=args.size, seed=args.seed_number, name=args.school)
    school = seed_doc["school"]["name"]
    with SandboxServers(
        seed_doc, host=args.host, enrolhq_port=args.enrolhq_port, sentral_port=args.sentral_port
    ) as servers:
        print(f"EnrolHQ sandbox: {servers.enrolhq_url}")
        print(f"Sentral sandbox: {servers.sentral_url}")
        print("Connections for Airflow (environment variables):")
        for key, value in servers.connection_env(school=school).items():
            print(f"export {key}='{value}'")
        print("Serving until interrupted (Ctrl-C).", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write a synthetic school's seed document")
    generate.add_argument("--size", type=int, default=30, help="applications, besides --in-sentral ones")
    generate.add_argument("--seed", type=int, default=1, help="which school; same seed, same document")
    generate.add_argument("--in-sentral", type=int, default=None, help="current students with applications")
    generate.add_argument("--as-of", default=None, help="the school's today, YYYY-MM-DD")
    generate.add_argument("--audit-days", type=int, default=3, help="days of audit log before --as-of")
    generate.add_argument("--name", default="demo", help="the school's name")
    generate.add_argument("-o", "--output", default="-", help="file to write; - for standard output")
    generate.set_defaults(run=_generate)

    serve = commands.add_parser("serve", help="serve both sandbox APIs until interrupted")
    serve.add_argument("--seed", default=None, help="a seed file written by 'generate'")
    serve.add_argument("--size", type=int, default=30, help="without --seed: applications to generate")
    serve.add_argument("--seed-number", type=int, default=1, help="without --seed: which school")
    serve.add_argument("--school", default="demo", help="without --seed: the school's name")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--enrolhq-port", type=int, default=8701)
    serve.add_argument("--sentral-port", type=int, default=8702)
    serve.set_defaults(run=_serve)

    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
