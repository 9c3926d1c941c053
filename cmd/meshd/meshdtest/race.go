//go:build race

package meshdtest

// raceEnabled says this binary was built with the race detector.
const raceEnabled = true
