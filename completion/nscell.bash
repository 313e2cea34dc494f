# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for nscell(8): verbs, their options, cell ids (read from
# the registry, so only for root), user names, PAM services, and the command
# after `nscell run` and `nscell enter CELL`.

_nscell_cells()
{
    local f
    for f in /run/nscell/cells/*.sock; do
        [[ -S $f ]] || continue
        f=${f##*/}
        printf '%s\n' "${f%.sock}"
    done 2>/dev/null
}

_nscell_cells_and_users()
{
    COMPREPLY=($(compgen -W "$(_nscell_cells)" -- "$cur") $(compgen -u -- "$cur"))
}

# Complete a command and its arguments from word $1 on.
_nscell_command_at()
{
    if declare -F _command_offset >/dev/null; then
        _command_offset "$1"
    elif ((cword == $1)); then
        COMPREPLY=($(compgen -c -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}

_nscell()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
    fi

    local verbs='check explain list show enter terminate run'
    local verb='' verb_at=0 i
    for ((i = 1; i < cword; i++)); do
        if [[ ${words[i]} != -* ]]; then
            verb=${words[i]}
            verb_at=$i
            break
        fi
    done
    if [[ -z $verb ]]; then
        COMPREPLY=($(compgen -W "$verbs --help --version" -- "$cur"))
        return
    fi

    # The first word after the verb that is not an option, and where it is.
    local arg_at=0
    for ((i = verb_at + 1; i < cword; i++)); do
        case ${words[i]} in
            --) arg_at=$((i + 1)); break ;;
            -u | --user | -s | --service | -H | --rhost | -t | --tty | -c | --config) ((i++)) ;;
            -*) ;;
            *) arg_at=$i; break ;;
        esac
    done

    case $verb in
        check)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W '-q --quiet --no-owner-check -h --help' -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            ;;
        explain)
            case $prev in
                -s | --service)
                    COMPREPLY=($(compgen -W "$(ls /etc/pam.d 2>/dev/null) nscell-run nscell-enter" -- "$cur"))
                    return ;;
                -c | --config)
                    COMPREPLY=($(compgen -f -- "$cur"))
                    return ;;
                -H | --rhost)
                    COMPREPLY=($(compgen -A hostname -- "$cur"))
                    return ;;
                -t | --tty)
                    return ;;
            esac
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W '-s --service -H --rhost -t --tty -c --config
                    --no-owner-check -h --help' -- "$cur"))
            else
                COMPREPLY=($(compgen -u -- "$cur"))
            fi
            ;;
        list | show)
            if [[ $cur == -* ]]; then
                local opts='-j --json -h --help'
                [[ $verb == list ]] && opts+=' --no-legend' || opts+=' -l --full'
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
            else
                _nscell_cells_and_users
            fi
            ;;
        terminate)
            if [[ $prev == -u || $prev == --user ]]; then
                COMPREPLY=($(compgen -u -- "$cur"))
            elif [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W '-u --user -a --all -v --verbose -h --help' -- "$cur"))
            else
                _nscell_cells_and_users
            fi
            ;;
        enter)
            # nscell enter [-r] CELL|USER [--] [CMD ...]
            if ((arg_at > 0)); then
                local cmd_at=$((arg_at + 1))
                [[ ${words[cmd_at]} == -- ]] && ((cmd_at++))
                ((cword >= cmd_at)) && _nscell_command_at "$cmd_at"
            elif [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W '-r --root -h --help' -- "$cur"))
            else
                _nscell_cells_and_users
            fi
            ;;
        run)
            # nscell run [--] CMD ...
            if ((arg_at > 0)); then
                _nscell_command_at "$arg_at"
            elif [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W '-h --help --' -- "$cur"))
            else
                _nscell_command_at "$cword"
            fi
            ;;
    esac
}

complete -F _nscell nscell
