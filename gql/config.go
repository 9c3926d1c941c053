package gql

import (
	"cmp"
	"time"
)

// DefaultConfig returns the defaults of the API layer's limits and timers: the one table that
// New fills a Config's zero fields from and that meshd's flags take their defaults from.
func DefaultConfig() Config {
	return Config{
		MaxRequestBytes: 1 << 20,
		RequestTimeout:  30 * time.Second,
		Realtime: RealtimeConfig{
			KeepAlive:           60 * time.Second,
			ConnectionTimeoutMS: 300000,
			MaxFrameBytes:       256 << 10,
			MaxConnections:      10000,
			MaxSubscriptions:    100,

			MaxGroupSubscriptionsPerAddress: 256,
			SendQueue:                       1024,
			SendQueueBytes:                  8 << 20,
			WriteTimeout:                    10 * time.Second,
		},
		Limits: Limits{
			MaxQueryBytes:    64 << 10,
			MaxDepth:         16,
			MaxOverlapPairs:  1000,
			MaxSelections:    1000,
			MaxAliases:       100,
			MaxResponseBytes: 8 << 20,
			MaxFrameBytes:    256 << 10,
			DocumentCache:    1024,
			MaxErrors:        100,

			MaxVariableBytes:  1 << 20,
			MaxVariableDepth:  8,
			MaxVariableValues: 10000,
		},
	}
}

// withDefaults is c with its zero (or negative) limits and timers taken from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	orDefault(&c.MaxRequestBytes, d.MaxRequestBytes)
	orDefault(&c.RequestTimeout, d.RequestTimeout)
	r, dr := &c.Realtime, d.Realtime
	orDefault(&r.KeepAlive, dr.KeepAlive)
	orDefault(&r.ConnectionTimeoutMS, dr.ConnectionTimeoutMS)
	orDefault(&r.MaxFrameBytes, dr.MaxFrameBytes)
	orDefault(&r.MaxConnections, dr.MaxConnections)
	orDefault(&r.MaxSubscriptions, dr.MaxSubscriptions)
	orDefault(&r.MaxGroupSubscriptionsPerAddress, dr.MaxGroupSubscriptionsPerAddress)
	orDefault(&r.SendQueue, dr.SendQueue)
	l, dl := &c.Limits, d.Limits
	orDefault(&l.MaxQueryBytes, dl.MaxQueryBytes)
	orDefault(&l.MaxDepth, dl.MaxDepth)
	orDefault(&l.MaxOverlapPairs, dl.MaxOverlapPairs)
	orDefault(&l.MaxSelections, dl.MaxSelections)
	orDefault(&l.MaxAliases, dl.MaxAliases)
	orDefault(&l.MaxResponseBytes, dl.MaxResponseBytes)
	orDefault(&l.MaxFrameBytes, dl.MaxFrameBytes)
	orDefault(&l.DocumentCache, dl.DocumentCache)
	orDefault(&l.MaxErrors, dl.MaxErrors)
	orDefault(&l.MaxVariableBytes, dl.MaxVariableBytes)
	orDefault(&l.MaxVariableDepth, dl.MaxVariableDepth)
	orDefault(&l.MaxVariableValues, dl.MaxVariableValues)
	orDefault(&r.SendQueueBytes, dr.SendQueueBytes)
	orDefault(&r.WriteTimeout, dr.WriteTimeout)
	return c
}

// orDefault sets *v to d when *v is not positive.
func orDefault[T cmp.Ordered](v *T, d T) {
	var zero T
	if *v <= zero {
		*v = d
	}
}
