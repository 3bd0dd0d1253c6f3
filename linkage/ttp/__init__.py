"""Everything that runs on the TTP's machine: `pprl link`, from sealed packages to each party's
sealed share. Nothing here reads identifiers: only keyed encodings and random tokens."""
