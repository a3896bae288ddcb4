"""Run the rightsflow worker: ``python worker.py``."""

from rightsflow.worker import main

if __name__ == "__main__":
    main()
