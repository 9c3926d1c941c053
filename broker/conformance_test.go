package broker_test

import (
	"testing"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

func TestConformance(t *testing.T) {
	brokertest.Conformance(t, func(t *testing.T, clock *brokertest.Clock) []broker.Service {
		return []broker.Service{brokertest.New(t, brokertest.Options{Clock: clock}).Broker}
	})
}
