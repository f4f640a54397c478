# SPDX-License-Identifier: ISC
# bash completion for rampart(1) and rampart-sign.  Installed as
# PREFIX/share/bash-completion/completions/rampart (and rampart-sign).
_rampart() {
	local cur prev words cword
	_init_completion 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	}
	case $prev in
	--socket | --db | --keys) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--timeout | --threshold | --seconds | --max | --org | --addr | --backlog) return ;;
	esac
	local cmd='' sub='' i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--socket | --timeout) ((i++)) ;;
		-*) ;;
		*) if [ -z "$cmd" ]; then cmd=${words[i]}; elif [ -z "$sub" ]; then sub=${words[i]}; fi ;;
		esac
	done
	local opts
	case $cmd in
	'') opts='ping status reload policy bind links hosts socket-link enforce diag helper --socket --json --timeout --version --help' ;;
	policy)
		case $sub in
		'') opts='show check refresh verify import' ;;
		show) opts='--db --json --help' ;;
		check) opts='--db --json --help' ;;
		refresh) opts='--json --help' ;;
		verify) opts='--db --keys --threshold --json --help' ;;
		import) opts='--db --keys --org --threshold --json --help'
			[[ $cur == -* ]] || { COMPREPLY=($(compgen -f -- "$cur")); return; } ;;
		esac ;;
	bind) opts='--udp --addr --backlog --v6only --json --help' ;;
	links) [ -z "$sub" ] && opts='install remove' || opts='--force --json --help' ;;
	hosts) [ -z "$sub" ] && opts='ensure remove' || opts='--fix-localhost --json --help' ;;
	socket-link) [ -z "$sub" ] && opts='ensure remove status' || opts='--force --json --help' ;;
	diag)
		case $sub in
		'') opts='trace bundle audit' ;;
		trace) opts='--seconds --json --help' ;;
		audit) opts='--max --json --help' ;;
		*) opts='--json --help' ;;
		esac ;;
	helper) [ -z "$sub" ] && opts='uninstall' || opts='--purge --json --help' ;;
	enforce) [ -z "$sub" ] && opts='status apply' || opts='--json --help' ;;
	*) opts='--json --help' ;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _rampart rampart

_rampart_sign() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	case $prev in
	--key | -k | --pub | -p | --keys | -K) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--type | -t | --threshold | -n | --org | -o | --warn-days | -w) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '--key --type --no-check --org --warn-days --verify --pub --keys --threshold --keyid --check --help --version' -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -F _rampart_sign rampart-sign
