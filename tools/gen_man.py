"""Writes the tinkex(1) man page from the binary's own --help texts, every subcommand included.

It walks `tinkex --help`, then `tinkex CMD --help` for each command it lists (and their
commands, for nested ones), so new subcommands appear without touching this script.
Used by tools/dist.sh; the date comes from the caller (SOURCE_DATE_EPOCH), so the page is
reproducible. Usage: python3 tools/gen_man.py PATH/TO/tinkex YYYY-MM-DD > tinkex.1
"""
import re
import subprocess
import sys

MAX_DEPTH = 3  # tinkex CMD SUBCMD: deeper nesting is not expected
MAX_COMMANDS = 200  # bound the walk whatever the binary prints
HEADER = re.compile(r"^[A-Z][A-Za-z]*( [A-Za-z]+){0,2}:$")


def help_text(binary, path):
    """The --help output of `tinkex PATH...`."""
    out = subprocess.run(
        [binary, *path, "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )
    if out.returncode != 0:
        sys.exit(f"gen_man: '{' '.join([binary, *path])} --help' exited {out.returncode}")
    return out.stdout


def parse(text):
    """Splits argh's help into usage, description lines and {section: lines}."""
    usage, description, sections, current = "", [], {}, None
    for line in text.splitlines():
        if not usage and line.startswith("Usage: "):
            usage, current = line[len("Usage: "):], "description"
        elif usage and HEADER.match(line):
            current = line[:-1]
            sections[current] = []
        elif current == "description":
            description.append(line)
        elif current:
            sections[current].append(line)
    return usage, [l for l in description if l.strip()], sections


def entries(lines):
    """Two-column entries ("  term   text", text possibly wrapped below) as (term, text)."""
    out = []
    for line in lines:
        if not line.strip():
            continue
        if line.startswith("  ") and not line.startswith("   "):
            term, _, text = line.strip().partition("  ")
            out.append([term, text.strip()])
        elif out:
            out[-1][1] = (out[-1][1] + " " + line.strip()).strip()
    return out


def esc(text):
    """Escapes text for roff: backslashes, dashes, and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    # Pure ASCII out, so groff needs no preconv: ≥ becomes \[u2265].
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    return "\\&" + text if text[:1] in (".", "'") else text


def metavars(usage):
    """{--flag: '<value>'} from the usage line, to show what a flag takes."""
    return {m.group(1): m.group(2) for m in re.finditer(r"(--[\w-]+) (<[^>]+>)", usage)}


def option_lines(lines, usage):
    """Roff for an Options section."""
    values = metavars(usage)
    out = []
    for term, text in entries(lines):
        names = [n.strip() for n in term.split(",")]
        shown = ", ".join(
            f"\\fB{esc(n)}\\fR" + (f" \\fI{esc(values[n])}\\fR" if n in values else "")
            for n in names
        )
        out += [".TP", shown, esc(text)]
    return out


def block_lines(lines):
    """Roff for Examples: kept as typed, unfilled."""
    body = [l[2:] if l.startswith("  ") else l for l in lines]
    while body and not body[-1].strip():
        body.pop()
    return [".PP", ".nf", ".RS 4", *[esc(l) for l in body], ".RE", ".fi"] if body else []


def paragraph_lines(lines):
    """Roff for Notes: one filled paragraph per blank-line-separated block."""
    out, para = [], []
    for line in lines + [""]:
        if line.strip():
            para.append(line.strip())
        elif para:
            out += [".PP", esc(" ".join(para))]
            para = []
    return out


def section_lines(sections, usage):
    """Roff for every section but Commands, in argh's order."""
    out = []
    for name, lines in sections.items():
        if name == "Commands":
            continue
        out.append(f'.SS "{esc(name)}"')
        if name in ("Options", "Positional Arguments"):
            out += option_lines(lines, usage)
        elif name == "Examples":
            out += block_lines(lines)
        elif name == "Error codes":
            for line in filter(str.strip, lines):
                code, _, text = line.strip().partition(" ")
                out += [".TP", f"\\fB{esc(code)}\\fR", esc(text)]
        else:
            out += paragraph_lines(lines)
    return out


def walk(binary, path, seen):
    """(path, usage, description, sections) for `tinkex PATH` and every command below it."""
    if len(seen) >= MAX_COMMANDS or len(path) > MAX_DEPTH or tuple(path) in seen:
        return []
    seen.add(tuple(path))
    usage, description, sections = parse(help_text(binary, path))
    found = [(path, usage, description, sections)]
    for name, _ in entries(sections.get("Commands", [])):
        if re.fullmatch(r"[a-z][a-z0-9-]*", name):
            found += walk(binary, path + [name], seen)
    return found


def main():
    binary, date = sys.argv[1], sys.argv[2]
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    commands = walk(binary, [], set())
    _, usage, description, sections = commands[0]
    summary = description[0].rstrip(".") if description else "tinkex"
    out = [
        f'.TH TINKEX 1 "{date}" "{esc(version)}" "User Commands"',
        ".nh",
        ".ad l",
        ".SH NAME",
        f"tinkex \\- {esc(summary)}",
        ".SH SYNOPSIS",
        f"\\fBtinkex\\fR {esc(usage.removeprefix('tinkex').strip())}",
        ".SH DESCRIPTION",
        *[esc(l.strip()) for l in description],
        *section_lines(sections, usage),
    ]
    listed = entries(sections.get("Commands", []))
    if listed:
        out.append(".SH COMMANDS")
        for name, text in listed:
            out += [".TP", f"\\fB{esc(name)}\\fR", esc(text)]
    for path, usage, description, sections in commands[1:]:
        out += [f'.SH "TINKEX {esc(" ".join(path).upper())}"', ".PP", f"\\fB{esc(usage)}\\fR"]
        out += [".PP", *[esc(l.strip()) for l in description]]
        out += section_lines(sections, usage)
    out += [".SH SEE ALSO", "The README.md shipped with tinkex (/usr/share/doc/tinkex)."]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
