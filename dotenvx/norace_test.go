//go:build !race

package dotenvx

const raceEnabled = false
