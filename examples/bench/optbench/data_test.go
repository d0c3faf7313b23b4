package optbench

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/stretchr/testify/require"
)

// -data replaces the optimizers table's datasets; grokking and spikes say in one line that it
// does not apply to them.
func TestDataFlag(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "toy.csv")
	var b bytes.Buffer
	b.WriteString("a,b,y\n")
	for i := range 40 {
		b.WriteString([]string{"0.1,0.2,1.5\n", "0.3,-0.1,2.5\n", "1.2,0.7,0.5\n", "-0.4,0.9,3.0\n"}[i%4])
	}
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	tasks, err := tableTasks(suite.Options{DataFile: path, Quick: true})
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	require.Equal(t, "rmse", tasks[0].metric)
	require.False(t, tasks[0].higherIsBetter)
	require.Equal(t, 400, tasks[0].steps)
	require.Equal(t, 40, tasks[0].table.N)

	tasks, err = tableTasks(suite.Options{})
	require.NoError(t, err)
	require.Len(t, tasks, 2)
	require.Equal(t, "accuracy", tasks[0].metric)

	var log bytes.Buffer
	ignoreData(suite.Options{DataFile: path, Out: &log}, "spikes", "digits with injected gradient spikes")
	require.Equal(t, "spikes: -data "+path+" does not apply to this benchmark (it runs digits with injected gradient spikes); running its default data\n", log.String())
	log.Reset()
	ignoreData(suite.Options{Out: &log}, "grokking", "x")
	require.Empty(t, log.String())
}
