package envs

import (
	"fmt"
	"math/rand/v2"
)

// KeyDoor is a MiniGrid-like gridworld with categorical observations: MiniGrid's
// DoorKey-5x5 layout and rules, observed through a 7x7 egocentric view whose cells are strings,
// as GBRL's categorical MiniGrid wrapper feeds its trees.
//
// Reference code: Farama-Foundation/Minigrid minigrid/envs/doorkey.py (layout),
// minigrid/minigrid_env.py (actions, reward, view extents, gen_obs_grid),
// minigrid/core/grid.py (slice, rotate_left, process_vis); NVlabs/gbrl_sb3's categorical
// MiniGrid wrapper (one string feature per view cell, plus the direction).
//
// Layout: a 5x5 grid with walls on the border, a wall at column 2 with a locked yellow door at
// row 1 or 2, the green goal at (3, 3), the agent (random heading) and the yellow key in
// column 1. Actions (Discrete(7), MiniGrid's): 0 turn left, 1 turn right, 2 forward, 3 pick
// up, 4 drop, 5 toggle (unlock the door when carrying the key, open/close it otherwise), 6 done
// (no-op). Reward on reaching the goal 1 - 0.9*step_count/max_steps (terminates); 0 otherwise.
// max_steps = 10*5*5 = 250 (time limit).
//
// Observation: 49 categorical features "cell_r_c" (the 7x7 view, the agent at row 6 column 3
// facing up; MiniGrid's visibility: cells hidden behind walls and closed doors are "unseen";
// the agent's own cell shows what it carries), plus "direction" ("0".."3") and "carrying"
// ("none" or "key,yellow"). Cell values are "object,color,state" strings without the parts an
// object lacks: "unseen", "empty", "wall,grey", "key,yellow", "goal,green",
// "door,yellow,locked", "door,yellow,closed", "door,yellow,open".
//
// Deviations: the mission string (constant in DoorKey) is not a feature; cell strings use
// readable names instead of MiniGrid's integer triplets.
type KeyDoor struct {
	grid     [kdSize * kdSize]kdCell
	x, y     int // agent position
	dir      int // 0 right, 1 down, 2 left, 3 up
	carrying bool
	steps    int
}

type kdCell uint8

const (
	kdEmpty kdCell = iota
	kdWall
	kdKey
	kdDoorLocked
	kdDoorClosed
	kdDoorOpen
	kdGoal
	kdUnseen
)

const (
	kdSize     = 5
	kdView     = 7
	kdMaxSteps = 10 * kdSize * kdSize
)

var kdNames = [...]string{kdEmpty: "empty", kdWall: "wall,grey", kdKey: "key,yellow",
	kdDoorLocked: "door,yellow,locked", kdDoorClosed: "door,yellow,closed",
	kdDoorOpen: "door,yellow,open", kdGoal: "goal,green", kdUnseen: "unseen"}

// KeyDoorCellValues lists every value a view cell can take.
var KeyDoorCellValues = []string{"unseen", "empty", "wall,grey", "key,yellow", "goal,green",
	"door,yellow,locked", "door,yellow,closed", "door,yellow,open"}

// kdDirVec is MiniGrid's DIR_TO_VEC.
var kdDirVec = [4][2]int{{1, 0}, {0, 1}, {-1, 0}, {0, -1}}

func init() { Register("keydoor-5x5-v0", func() Env { return &KeyDoor{} }) }

// Spec implements Env.
func (k *KeyDoor) Spec() Spec {
	names := make([]string, 0, kdView*kdView+2)
	values := make([][]string, 0, kdView*kdView+2)
	for r := 0; r < kdView; r++ {
		for c := 0; c < kdView; c++ {
			names = append(names, fmt.Sprintf("cell_%d_%d", r, c))
			values = append(values, KeyDoorCellValues)
		}
	}
	names = append(names, "direction", "carrying")
	values = append(values, []string{"0", "1", "2", "3"}, []string{"none", "key,yellow"})
	return Spec{ID: "KeyDoor-5x5-v0", CatObs: len(names), CatNames: names, CatValues: values,
		Actions: 7, MaxEpisodeSteps: kdMaxSteps}
}

func (k *KeyDoor) at(x, y int) kdCell {
	if x < 0 || y < 0 || x >= kdSize || y >= kdSize {
		return kdWall // Grid.slice fills cells outside the grid with walls.
	}
	return k.grid[y*kdSize+x]
}

func (k *KeyDoor) set(x, y int, c kdCell) { k.grid[y*kdSize+x] = c }

// Reset implements Env. The placement follows DoorKeyEnv._gen_grid: goal, wall column, agent,
// door, key, each drawn with rejection sampling over its region as MiniGrid's place_obj does.
func (k *KeyDoor) Reset(rng *rand.Rand, _ []float32, cat []string) {
	for i := range k.grid {
		k.grid[i] = kdEmpty
	}
	for i := 0; i < kdSize; i++ {
		k.set(i, 0, kdWall)
		k.set(i, kdSize-1, kdWall)
		k.set(0, i, kdWall)
		k.set(kdSize-1, i, kdWall)
	}
	k.set(kdSize-2, kdSize-2, kdGoal)
	split := 2 // _rand_int(2, width-2) with width 5
	for y := 0; y < kdSize; y++ {
		k.set(split, y, kdWall)
	}
	// place_agent(size=(split, height)): uniform over the free cells of columns 0..split-1.
	for {
		x, y := rng.IntN(split), rng.IntN(kdSize)
		if k.at(x, y) == kdEmpty {
			k.x, k.y = x, y
			break
		}
	}
	k.dir = rng.IntN(4)
	doorY := 1 + rng.IntN(kdSize-3) // _rand_int(1, width-2)
	k.set(split, doorY, kdDoorLocked)
	for {
		x, y := rng.IntN(split), rng.IntN(kdSize)
		if k.at(x, y) == kdEmpty && (x != k.x || y != k.y) {
			k.set(x, y, kdKey)
			break
		}
	}
	k.carrying = false
	k.steps = 0
	k.observe(cat)
}

// Step implements Env.
func (k *KeyDoor) Step(_ *rand.Rand, a int, _ []float32, _ []float32, cat []string) (float64, bool) {
	k.steps++
	reward, terminated := 0.0, false
	fx, fy := k.x+kdDirVec[k.dir][0], k.y+kdDirVec[k.dir][1]
	front := k.at(fx, fy)
	switch a {
	case 0:
		k.dir = (k.dir + 3) % 4
	case 1:
		k.dir = (k.dir + 1) % 4
	case 2:
		switch front {
		case kdEmpty, kdDoorOpen:
			k.x, k.y = fx, fy
		case kdGoal:
			k.x, k.y = fx, fy
			terminated = true
			reward = 1 - 0.9*(float64(k.steps)/float64(kdMaxSteps))
		}
	case 3:
		if front == kdKey && !k.carrying {
			k.carrying = true
			k.set(fx, fy, kdEmpty)
		}
	case 4:
		if front == kdEmpty && k.carrying {
			k.set(fx, fy, kdKey)
			k.carrying = false
		}
	case 5:
		switch front {
		case kdDoorLocked:
			if k.carrying {
				k.set(fx, fy, kdDoorOpen)
			}
		case kdDoorClosed:
			k.set(fx, fy, kdDoorOpen)
		case kdDoorOpen:
			k.set(fx, fy, kdDoorClosed)
		}
	case 6:
	default:
		panic(fmt.Sprintf("envs: KeyDoor action %d out of range [0, 7)", a))
	}
	k.observe(cat)
	return reward, terminated
}

// observe writes MiniGrid's egocentric view (gen_obs_grid + process_vis) as strings.
func (k *KeyDoor) observe(cat []string) {
	// View extents (get_view_exts).
	var topX, topY int
	switch k.dir {
	case 0:
		topX, topY = k.x, k.y-kdView/2
	case 1:
		topX, topY = k.x-kdView/2, k.y
	case 2:
		topX, topY = k.x-kdView+1, k.y-kdView/2
	default:
		topX, topY = k.x-kdView/2, k.y-kdView+1
	}
	// Slice, then rotate left dir+1 times: cell (i, j) of the slice moves to (j, w-1-i).
	var view [kdView][kdView]kdCell // view[x][y]
	for i := 0; i < kdView; i++ {
		for j := 0; j < kdView; j++ {
			view[i][j] = k.at(topX+i, topY+j)
		}
	}
	for r := 0; r < k.dir+1; r++ {
		var rot [kdView][kdView]kdCell
		for i := 0; i < kdView; i++ {
			for j := 0; j < kdView; j++ {
				rot[j][kdView-1-i] = view[i][j]
			}
		}
		view = rot
	}
	ax, ay := kdView/2, kdView-1
	if k.carrying {
		view[ax][ay] = kdKey
	} else {
		view[ax][ay] = kdEmpty
	}
	// process_vis.
	var mask [kdView][kdView]bool
	mask[ax][ay] = true
	seeBehind := func(c kdCell) bool { return c != kdWall && c != kdDoorLocked && c != kdDoorClosed }
	for j := kdView - 1; j >= 0; j-- {
		for i := 0; i < kdView-1; i++ {
			if !mask[i][j] || !seeBehind(view[i][j]) {
				continue
			}
			mask[i+1][j] = true
			if j > 0 {
				mask[i+1][j-1] = true
				mask[i][j-1] = true
			}
		}
		for i := kdView - 1; i > 0; i-- {
			if !mask[i][j] || !seeBehind(view[i][j]) {
				continue
			}
			mask[i-1][j] = true
			if j > 0 {
				mask[i-1][j-1] = true
				mask[i][j-1] = true
			}
		}
	}
	for y := 0; y < kdView; y++ {
		for x := 0; x < kdView; x++ {
			c := view[x][y]
			if !mask[x][y] {
				c = kdUnseen
			}
			cat[y*kdView+x] = kdNames[c]
		}
	}
	cat[kdView*kdView] = string(rune('0' + k.dir))
	if k.carrying {
		cat[kdView*kdView+1] = "key,yellow"
	} else {
		cat[kdView*kdView+1] = "none"
	}
}

// SetLayout places the agent at (agentX, agentY) facing dir, the locked door at row doorY of
// the wall column and the key at (keyX, keyY), clears the step counter and writes the
// observation into cat (for tests and demonstrations). It returns an error for a layout
// DoorKey-5x5 cannot produce.
func (k *KeyDoor) SetLayout(agentX, agentY, dir, doorY, keyX, keyY int, cat []string) error {
	if agentX != 1 || keyX != 1 || agentY < 1 || agentY > 3 || keyY < 1 || keyY > 3 || agentY == keyY {
		return fmt.Errorf("envs: KeyDoor agent (%d,%d) and key (%d,%d) must be distinct cells of column 1, rows 1..3", agentX, agentY, keyX, keyY)
	}
	if doorY < 1 || doorY > 2 || dir < 0 || dir > 3 {
		return fmt.Errorf("envs: KeyDoor door row %d must be 1 or 2 and dir %d in [0, 4)", doorY, dir)
	}
	for i := range k.grid {
		k.grid[i] = kdEmpty
	}
	for i := 0; i < kdSize; i++ {
		k.set(i, 0, kdWall)
		k.set(i, kdSize-1, kdWall)
		k.set(0, i, kdWall)
		k.set(kdSize-1, i, kdWall)
		k.set(2, i, kdWall)
	}
	k.set(kdSize-2, kdSize-2, kdGoal)
	k.set(2, doorY, kdDoorLocked)
	k.set(keyX, keyY, kdKey)
	k.x, k.y, k.dir, k.carrying, k.steps = agentX, agentY, dir, false, 0
	k.observe(cat)
	return nil
}
