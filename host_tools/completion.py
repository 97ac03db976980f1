"""Shell completion generated from the CLI's own argparse tree, so it can't
fall behind the commands: `totp-token completion bash` prints the script.

    eval "$(totp-token completion bash)"        # in ~/.bashrc
    # zsh: autoload -U bashcompinit && bashcompinit, then the same line

It completes commands, each command's options, and an option's fixed choices
(e.g. --algorithm); anything else falls back to file names (import FILE...).
"""
import argparse

PROGRAM = "totp-token"


def _subcommands(parser):
    for action in parser._actions:  # argparse keeps no public list of them
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser):
    """(option strings, {option: choices}) of one parser, in its order."""
    words, choices = [], {}
    for action in parser._actions:
        for opt in action.option_strings:
            if opt.startswith("--"):
                words.append(opt)
                if action.choices:
                    choices[opt] = [str(c) for c in action.choices]
                elif isinstance(action.metavar, str) and action.metavar.startswith("{") \
                        and action.metavar.endswith("}"):
                    # choices checked by the command itself (e.g. case-insensitive)
                    choices[opt] = action.metavar[1:-1].split(",")
    return words, choices


def _quote_words(words):
    # Our option names and choices are plain words; refuse anything that isn't.
    for w in words:
        if not all(c.isalnum() or c in "-_.:" for c in w):
            raise ValueError("cannot complete %r" % w)
    return " ".join(words)


def bash(parser, program=PROGRAM):
    """The bash completion script for `parser` (provision.build_parser())."""
    fn = "_" + program.replace("-", "_").replace(".", "_")
    commands = _subcommands(parser)
    top_words, top_choices = _options(parser)
    lines = [
        "# bash completion for %s, generated from its argparse tree by" % program,
        "# `%s completion bash`; regenerate it after an update." % program,
        "%s() {" % fn,
        '    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd="" i',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        "        case ${COMP_WORDS[i]} in",
        "            %s) cmd=${COMP_WORDS[i]}; break ;;" % "|".join(commands),
        "        esac",
        "    done",
        "    local words=\"\"",
        "    case $cmd in",
    ]
    per_command = [("", top_words + list(commands), top_choices)]
    for name, sub in commands.items():
        words, choices = _options(sub)
        per_command.append((name, words, choices))
    for name, words, choices in per_command:
        lines.append('        "%s")' % name)
        if choices:
            lines.append("            case $prev in")
            for opt, values in choices.items():
                lines.append('                %s) COMPREPLY=($(compgen -W "%s" -- "$cur")); '
                             'return ;;' % (opt, _quote_words(values)))
            lines.append("            esac")
        if name:
            # Options only once the user types a dash: otherwise file names.
            lines.append('            [[ $cur == -* ]] && words="%s" ;;' % _quote_words(words))
        else:
            lines.append('            words="%s" ;;' % _quote_words(words))
    lines += [
        "    esac",
        '    COMPREPLY=($(compgen -W "$words" -- "$cur"))',
        "}",
        "complete -o default -F %s %s" % (fn, program),
        "",
    ]
    return "\n".join(lines)
