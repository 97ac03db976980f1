"""Shell completion generated from the CLI's own argparse tree, so it can't
fall behind the commands: `totp-token completion bash|zsh|fish` prints the
script, for both names the CLI goes by (totp-token and provision.py).

    eval "$(totp-token completion bash)"                  # in ~/.bashrc
    eval "$(totp-token completion zsh)"                   # in ~/.zshrc, after compinit
    totp-token completion fish | source                   # in ~/.config/fish/config.fish

It completes commands, each command's options, an option's fixed choices
(e.g. --algorithm) and --port's ports, which change while the shell runs:
the script asks `completion --ports` for them at each Tab (the serial ports
and running simulators, ports() below). Anything else falls back to file
names (import FILE...).
"""
import argparse
import collections

PROGRAMS = ("totp-token", "provision.py")
FUNCTION = "_totp_token"

Option = collections.namedtuple("Option", "name takes_value choices help")


def _subcommands(parser):
    for action in parser._actions:  # argparse keeps no public list of them
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _command_help(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


def _options(parser, nested=False):
    """The long options of one parser, in its order; nested: with those of
    its own subcommands (pin set --tries), each once."""
    found = []
    for action in parser._actions:
        if nested and isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += [o for o in _options(sub, True) if o.name not in
                          {f.name for f in found}]
            continue
        for opt in action.option_strings:
            if not opt.startswith("--"):
                continue
            choices = None
            if action.choices:
                choices = [str(c) for c in action.choices]
            elif isinstance(action.metavar, str) and action.metavar.startswith("{") \
                    and action.metavar.endswith("}"):
                # choices checked by the command itself (e.g. case-insensitive)
                choices = action.metavar[1:-1].split(",")
            text = "" if action.help in (None, argparse.SUPPRESS) else action.help
            found.append(Option(opt, action.nargs != 0, choices, text))
    return found


def _positional_choices(parser):
    """The fixed choices of a command's positional arguments, its own
    subcommands included (pin set|change|remove)."""
    return [str(c) for a in parser._actions if not a.option_strings and a.choices
            for c in a.choices]


def _plain(words):
    # Our option names and choices are plain words; refuse anything that isn't,
    # so no quoting is needed in any of the three shells.
    for w in words:
        if not w or not all(c.isalnum() or c in "-_.:/" for c in w):
            raise ValueError("cannot complete %r" % w)
    return " ".join(words)


def _command_line(argv):
    """argv as one shell word each, in a form bash, zsh and fish all read."""
    out = []
    for word in argv:
        if "\\" in word or "\n" in word:
            raise ValueError("cannot put %r in a completion script" % word)
        out.append("'%s'" % word.replace("'", "'\"'\"'"))
    return " ".join(out)


class _Tree:
    """What every script needs: the commands in order, and per command
    ("" for the top level) its options."""

    def __init__(self, parser, dynamic):
        self.commands = _subcommands(parser)
        self.help = _command_help(parser)
        self.options = {"": _options(parser)}
        self.positional = {}
        for name, sub in self.commands.items():
            self.options[name] = _options(sub, nested=True)
            self.positional[name] = _positional_choices(sub)
        self.dynamic = dynamic  # {option: argv printing its values, one a line}


def _port_lister(lister):
    return {"--port": list(lister) + ["completion", "--ports"]}


# ---- bash and zsh: one function of case statements ----

# What differs between the two: the words array, where the command's words
# start, how a case pattern is written, how words are offered, and what
# happens after a command's name (options after a dash, else file names).
Dialect = collections.namedtuple(
    "Dialect", "shell words current first pattern declare offer dynamic files register")

BASH = Dialect(
    "bash", "COMP_WORDS", "COMP_CWORD", 1, "%s)", "COMPREPLY=()",
    offer='COMPREPLY=($(compgen -W "%s" -- "$cur"))',
    dynamic='COMPREPLY=($(compgen -W "$(%s 2>/dev/null)" -- "$cur"))',
    files=":",  # bash falls back to file names by itself (complete -o default)
    register="complete -o default -F %s %s")

ZSH = Dialect(
    "zsh", "words", "CURRENT", 2, "(%s)", "local -a found",
    offer="compadd -- %s",
    dynamic='found=(${(f)"$(%s 2>/dev/null)"}); compadd -- $found',
    files="_files",
    register="compdef %s %s")


def _case_script(parser, lister, programs, d, note=""):
    tree = _Tree(parser, _port_lister(lister))
    w, c = d.words, d.current
    lines = [
        "# %s completion for %s, generated from its argparse tree by"
        % (d.shell, " and ".join(programs)),
        "# `%s completion %s`; regenerate it after an update.%s" % (programs[0], d.shell, note),
        "%s() {" % FUNCTION,
        '    local cur=${%s[%s]} prev=${%s[%s-1]} cmd="" i' % (w, c, w, c),
        "    " + d.declare,
        "    for ((i = %d; i < %s; i++)); do" % (d.first, c),
        "        case ${%s[i]} in" % w,
        "            %s cmd=${%s[i]}; break ;;" % (d.pattern % "|".join(tree.commands), w),
        "        esac",
        "    done",
        "    case $prev in",
    ]
    for opt, argv in tree.dynamic.items():
        lines.append("        %s %s; return ;;" % (d.pattern % opt,
                                                   d.dynamic % _command_line(argv)))
    lines += ["    esac", "    case $cmd in"]
    for name, options in tree.options.items():
        lines.append("        " + d.pattern % ('"%s"' % name))
        choices = [o for o in options if o.choices]
        if choices:
            lines.append("            case $prev in")
            for o in choices:
                lines.append("                %s %s; return ;;"
                             % (d.pattern % o.name, d.offer % _plain(o.choices)))
            lines.append("            esac")
        words = [o.name for o in options]
        if name:
            # Options once the user types a dash; else the command's own
            # choices, or file names.
            rest = tree.positional[name]
            lines.append("            if [[ $cur == -* ]]; then %s; else %s; fi ;;" % (
                d.offer % _plain(words), d.offer % _plain(rest) if rest else d.files))
        else:
            lines.append("            %s ;;" % (d.offer % _plain(words + list(tree.commands))))
    lines += [
        "    esac",
        "}",
        d.register % (FUNCTION, " ".join(programs)),
        "",
    ]
    return "\n".join(lines)


def bash(parser, lister, programs=PROGRAMS):
    """The bash script; lister: the argv that runs this CLI (for the ports)."""
    return _case_script(parser, lister, programs, BASH)


def zsh(parser, lister, programs=PROGRAMS):
    """The zsh script (native: compadd and _files, registered with compdef)."""
    return _case_script(parser, lister, programs, ZSH, " Needs compinit.")


# ---- fish ----

def _fish_text(text):
    # A description in single quotes: fish reads only \\ and \' in them.
    text = " ".join(text.replace("%%", "%").split())
    return "'%s'" % text.replace("\\", "\\\\").replace("'", "\\'")


def fish(parser, lister, programs=PROGRAMS):
    """The fish script: `complete` rules, each under a condition on which
    command (if any) the line already names."""
    tree = _Tree(parser, _port_lister(lister))
    names = _plain(tree.commands)
    lines = [
        "# fish completion for %s, generated from its argparse tree by" % " and ".join(programs),
        "# `%s completion fish`; regenerate it after an update." % programs[0],
        "function %s_command" % FUNCTION,
        "    for w in (commandline -opc)[2..-1]",
        "        if contains -- $w %s" % names,
        "            echo $w",
        "            return 0",
        "        end",
        "    end",
        "    return 1",
        "end",
        "function %s_in" % FUNCTION,
        "    set -l cmd (%s_command); and contains -- $cmd $argv" % FUNCTION,
        "end",
    ]
    for program in programs:
        top = "-n 'not %s_command'" % FUNCTION
        lines.append("complete -c %s %s -f" % (program, top))
        for name in tree.commands:
            lines.append("complete -c %s %s -a %s -d %s"
                         % (program, top, name, _fish_text(tree.help.get(name, ""))))
        for name, options in tree.options.items():
            where = top if not name else "-n '%s_in %s'" % (FUNCTION, name)
            if tree.positional.get(name):
                lines.append("complete -c %s %s -f -a '%s'"
                             % (program, where, _plain(tree.positional[name])))
            for o in options:
                rule = "complete -c %s %s -l %s" % (program, where, o.name[2:])
                if o.name in tree.dynamic:
                    rule += " -x -a '(%s 2>/dev/null)'" % _command_line(
                        tree.dynamic[o.name]).replace("'", "\\'")
                elif o.choices:
                    rule += " -x -a '%s'" % _plain(o.choices)
                elif o.takes_value:
                    rule += " -r"
                lines.append(rule + " -d " + _fish_text(o.help.split(";")[0]))
    lines.append("")
    return "\n".join(lines)


SHELLS = {"bash": bash, "zsh": zsh, "fish": fish}


def ports():
    """What --port can take: the ports `devices` lists (known boards, then
    running simulators), then every other serial port this computer has."""
    from host_tools import link
    found = [c["port"] for c in link.candidates()]
    for p in sorted(link.list_ports.comports(), key=lambda p: p.device):
        if p.device not in found:
            found.append(p.device)
    return found
