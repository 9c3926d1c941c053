package broker_test

import (
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

func TestZeroConfigFieldsTakeTheDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   broker.Config
		want func() broker.Config
	}{
		{"zero", broker.Config{}, broker.DefaultConfig},
		{"set fields stay", broker.Config{EventTTL: 3 * time.Second, EventPageLimit: 7, SweepInterval: -1}, func() broker.Config {
			c := broker.DefaultConfig()
			c.EventTTL, c.EventPageLimit, c.SweepInterval = 3*time.Second, 7, -1
			return c
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := brokertest.New(t, brokertest.Options{Config: &tt.in})
			if got, want := b.Config(), tt.want(); got != want {
				t.Fatalf("config %+v, want %+v", got, want)
			}
		})
	}
	// A broker on the zero config keeps its groups alive, as upstream does.
	b := brokertest.New(t, brokertest.Options{Config: &broker.Config{}})
	g, err := b.CreateGroup(ctx, broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	b.Clock.Advance(time.Minute)
	if groups, err := b.ListGroups("d"); err != nil || len(groups) != 1 || groups[0].ID != g.ID {
		t.Fatalf("groups a minute after creation: %+v", groups)
	}
}
