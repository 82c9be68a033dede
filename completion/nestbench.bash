# bash completion for nestbench(1).
# shellcheck shell=bash
#
# Everything offered comes from the binary being completed: its commands and
# options from `nestbench help --complete [COMMAND]`, kernel, backing, suite
# and event names from `nestbench list TOPIC --names`, so the completion
# always matches the installed version and needs no list of its own.

# Words for a kind of value (the third field of an `option` record).
_nestbench_values() {
	local nb=$1 kind=$2 choices=$3
	case $kind in
	kernels | backings | suites | events) "$nb" list "$kind" --names 2>/dev/null ;;
	commands) "$nb" help --complete 2>/dev/null | while IFS=$'\t' read -r what name _; do
		[ "$what" = command ] && printf '%s\n' "$name"
	done ;;
	choice)
		local -a words
		[ "$choices" != - ] && read -ra words <<<"$choices" && printf '%s\n' "${words[@]}" ;;
	esac
}

# Complete cur as a value of that kind; in a comma-separated list
# (--kernel chase,fa<TAB>) only the part after the last comma.
_nestbench_complete_value() {
	local nb=$1 kind=$2 choices=$3 cur=$4
	case $kind in
	file)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	dir)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return ;;
	none | word) return ;;
	esac
	local head="" last=$cur
	if [[ $cur == *,* ]]; then
		head=${cur%,*},
		last=${cur##*,}
	fi
	local w
	COMPREPLY=()
	while IFS= read -r w; do
		[[ $w == "$last"* ]] && COMPREPLY+=("$head$w")
	done < <(_nestbench_values "$nb" "$kind" "$choices")
	# A list may go on: no space after a completed item of a comma list.
	[ -n "$head" ] && compopt -o nospace 2>/dev/null
	return 0
}

_nestbench() {
	local cur prev words cword nb=${COMP_WORDS[0]} cmd="" i optword="" value="" eqprefix=""
	if declare -F _get_comp_words_by_ref >/dev/null; then
		# bash-completion: rejoin "perf::EVENT", which COMP_WORDBREAKS splits at ':'.
		_get_comp_words_by_ref -n : cur prev words cword
	else
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
		cur=${words[cword]}
		prev=""
		[ "$cword" -gt 0 ] && prev=${words[cword - 1]}
	fi
	# "--opt=value" arrives as "--opt" "=" "value" (COMP_WORDBREAKS has '=').
	if [ "$prev" = "=" ] && [ "$cword" -gt 1 ]; then
		optword=${words[cword - 2]}
		value=$cur
	fi
	COMPREPLY=()
	# The command: the first word after the program that is not an option.
	for ((i = 1; i < cword; i++)); do
		if [[ ${words[i]} != -* ]]; then
			cmd=${words[i]}
			break
		fi
	done

	local data
	data=$("$nb" help --complete ${cmd:+"$cmd"} 2>/dev/null) || return 0

	if [ -n "$optword" ]; then
		:
	elif [[ $cur == --*=* ]]; then
		optword=${cur%%=*}
		value=${cur#*=}
		eqprefix=$optword=
	elif [[ $prev == -* ]]; then
		optword=$prev
		value=$cur
	fi
	local what long short kind choices
	if [ -n "$optword" ]; then
		while IFS=$'\t' read -r what long short kind choices; do
			[ "$what" = option ] || continue
			if [ "$optword" = "$long" ] || [ "$optword" = "$short" ]; then
				[ "$kind" = none ] && break
				_nestbench_complete_value "$nb" "$kind" "$choices" "$value"
				[ -n "$eqprefix" ] && COMPREPLY=("${COMPREPLY[@]/#/$eqprefix}")
				_nestbench_ltrim "$cur"
				return 0
			fi
		done <<<"$data"
	fi

	if [[ $cur == -* ]]; then
		while IFS=$'\t' read -r what long short kind choices; do
			[ "$what" = option ] && [[ $long == "$cur"* ]] && COMPREPLY+=("$long")
		done <<<"$data"
		return 0
	fi
	while IFS=$'\t' read -r what kind choices; do
		if [ "$what" = operand ]; then
			_nestbench_complete_value "$nb" "$kind" "$choices" "$cur"
			return 0
		fi
	done <<<"$data"
	return 0
}

# With bash-completion, the replies must not repeat what precedes the last
# ':' of cur (bash replaces only the part after a word break).
_nestbench_ltrim() {
	if declare -F __ltrim_colon_completions >/dev/null; then
		__ltrim_colon_completions "$1"
	fi
}

complete -F _nestbench nestbench
