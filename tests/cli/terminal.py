"""A real pseudo-terminal to draw on, and the screen a person would see from what was drawn."""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import re
import struct
import termios
from typing import TextIO

# The only controls the progress view may send: carriage return, newline, cursor up, erase.
CONTROL = re.compile(r"(\x1b\[\d*A|\x1b\[J|\r|\n)")


class Pty:
    """stream: the slave end (isatty() is True); read(): everything drawn on it so far."""

    def __init__(self, columns: int = 120, rows: int = 40) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        os.set_blocking(self.master, False)
        self.stream: TextIO = os.fdopen(slave, "w", encoding="utf-8")
        self.raw = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")()  # a read may split a character

    def read(self) -> str:
        if not self.stream.closed:
            self.stream.flush()
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            self.raw += self._decoder.decode(chunk)
        return self.raw

    def close(self) -> None:
        self.stream.close()
        os.close(self.master)


def screen(raw: str) -> list[str]:
    """The lines on screen after `raw` (any other escape sequence fails the test)."""
    lines, row, col = [""], 0, 0
    for token in CONTROL.split(raw):
        if token == "\r":
            col = 0
        elif token == "\n":
            row += 1
            if row == len(lines):
                lines.append("")
        elif token == "\x1b[J":
            lines[row] = lines[row][:col]
            del lines[row + 1 :]
        elif token.startswith("\x1b["):
            row = max(0, row - int(token[2:-1] or 1))
        elif token:
            assert "\x1b" not in token, f"unexpected escape sequence in {token!r}"
            line = lines[row].ljust(col)
            lines[row] = line[:col] + token + line[col + len(token) :]
            col += len(token)
    return lines
