"""Progress of a long job, for the management commands.

On a terminal, one line rewritten in place; off a terminal (cron, a log file) a plain line
each time a phase passes a multiple of `every` items, so a log shows how far a job got.
"""

from __future__ import annotations


class Progress:
    """`progress(phase, done, total)` after each item (or group of items) of a phase."""

    def __init__(self, stream, *, every: int = 1000, verbosity: int = 1):
        self.stream, self.every, self.verbosity = stream, every, verbosity
        self.tty = stream.isatty()
        self.shown = False  # a terminal line is open
        self.last_line: dict[str, int] = {}  # phase → the `done` of its last plain line

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.verbosity < 1:
            return
        if self.tty:
            if done % 25 == 0 or done == total:
                self.stream.write(f"\r{phase}: {done}/{total}", ending="")
                self.stream.flush()
                self.shown = True
            return
        if self.every <= 0:
            return
        # a group of items may jump over a multiple of `every`: a line when one is crossed
        last = self.last_line.get(phase, 0)
        if done // self.every > last // self.every:
            self.stream.write(f"{phase}: {done}/{total}")
            self.last_line[phase] = done

    def end(self) -> None:
        """Finish the terminal's line before anything else is printed."""
        if self.shown:
            self.stream.write("")
            self.shown = False
