package integration

import "testing"

func TestScenarioSize(t *testing.T) {
	const env = "EOSKIT_TEST_SCENARIO_SIZE"
	for _, tc := range []struct {
		chaos, override string
		want            int
	}{
		{"", "", 3000},
		{"1", "", 30000},
		{"0", "", 3000},
		{"", "500", 500},
		{"1", "500", 500},
		{"", "-4", 3000},
		{"1", "many", 30000},
	} {
		t.Setenv("EOSKIT_CHAOS", tc.chaos)
		t.Setenv(env, tc.override)
		if got := ScenarioSize(env, 3000, 30000); got != tc.want {
			t.Errorf("EOSKIT_CHAOS=%q %s=%q: ScenarioSize = %d, want %d", tc.chaos, env, tc.override, got, tc.want)
		}
		if got, want := Chaos(), tc.chaos == "1"; got != want {
			t.Errorf("EOSKIT_CHAOS=%q: Chaos = %v, want %v", tc.chaos, got, want)
		}
	}
}
