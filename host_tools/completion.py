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


def _options(parser):
    """The long options of one parser, in its order."""
    found = []
    for action in parser._actions:
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
        for name, sub in self.commands.items():
            self.options[name] = _options(sub)
        self.dynamic = dynamic  # {option: argv printing its values, one a line}


def _port_lister(lister):
    return {"--port": list(lister) + ["completion", "--ports"]}


# ---- bash ----

def bash(parser, lister, programs=PROGRAMS):
    """The bash script; lister: the argv that runs this CLI (for the ports)."""
    tree = _Tree(parser, _port_lister(lister))
    lines = [
        "# bash completion for %s, generated from its argparse tree by" % " and ".join(programs),
        "# `%s completion bash`; regenerate it after an update." % programs[0],
        "%s() {" % FUNCTION,
        '    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd="" i',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        "        case ${COMP_WORDS[i]} in",
        "            %s) cmd=${COMP_WORDS[i]}; break ;;" % "|".join(tree.commands),
        "        esac",
        "    done",
        "    case $prev in",
    ]
    for opt, argv in tree.dynamic.items():
        lines.append('        %s) COMPREPLY=($(compgen -W "$(%s 2>/dev/null)" -- "$cur")); '
                     'return ;;' % (opt, _command_line(argv)))
    lines += [
        "    esac",
        '    local words=""',
        "    case $cmd in",
    ]
    for name, options in tree.options.items():
        lines.append('        "%s")' % name)
        choices = [o for o in options if o.choices]
        if choices:
            lines.append("            case $prev in")
            for o in choices:
                lines.append('                %s) COMPREPLY=($(compgen -W "%s" -- "$cur")); '
                             'return ;;' % (o.name, _plain(o.choices)))
            lines.append("            esac")
        words = [o.name for o in options]
        if name:
            # Options only once the user types a dash: otherwise file names.
            lines.append('            [[ $cur == -* ]] && words="%s" ;;' % _plain(words))
        else:
            lines.append('            words="%s" ;;' % _plain(words + list(tree.commands)))
    lines += [
        "    esac",
        '    COMPREPLY=($(compgen -W "$words" -- "$cur"))',
        "}",
        "complete -o default -F %s %s" % (FUNCTION, " ".join(programs)),
        "",
    ]
    return "\n".join(lines)


# ---- zsh ----

def zsh(parser, lister, programs=PROGRAMS):
    """The zsh script (native: compadd and _files, registered with compdef)."""
    tree = _Tree(parser, _port_lister(lister))
    lines = [
        "# zsh completion for %s, generated from its argparse tree by" % " and ".join(programs),
        "# `%s completion zsh`; regenerate it after an update. Needs compinit." % programs[0],
        "%s() {" % FUNCTION,
        '    local cur=${words[CURRENT]} prev=${words[CURRENT-1]} cmd="" i',
        "    local -a found",
        "    for ((i = 2; i < CURRENT; i++)); do",
        "        case ${words[i]} in",
        "            (%s) cmd=${words[i]}; break ;;" % "|".join(tree.commands),
        "        esac",
        "    done",
        "    case $prev in",
    ]
    for opt, argv in tree.dynamic.items():
        lines.append('        (%s) found=(${(f)"$(%s 2>/dev/null)"}); compadd -- $found; '
                     'return ;;' % (opt, _command_line(argv)))
    lines += ["    esac", "    case $cmd in"]
    for name, options in tree.options.items():
        lines.append('        ("%s")' % name)
        choices = [o for o in options if o.choices]
        if choices:
            lines.append("            case $prev in")
            for o in choices:
                lines.append("                (%s) compadd -- %s; return ;;"
                             % (o.name, _plain(o.choices)))
            lines.append("            esac")
        words = [o.name for o in options]
        if name:
            lines.append("            if [[ $cur == -* ]]; then compadd -- %s; else _files; fi ;;"
                         % _plain(words))
        else:
            lines.append("            compadd -- %s ;;" % _plain(words + list(tree.commands)))
    lines += [
        "    esac",
        "}",
        "compdef %s %s" % (FUNCTION, " ".join(programs)),
        "",
    ]
    return "\n".join(lines)


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
