from borderx.cli import main

if __name__ == "__main__":  # a spawned worker process (federation/sigcheck.py) must not run the CLI
    raise SystemExit(main())
