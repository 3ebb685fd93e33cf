//go:build race

package dotenvx

const raceEnabled = true
