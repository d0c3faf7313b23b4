# Golden values for certified.EpsSchedule (smoothed): auto_LiRPA eps_scheduler.py
# SmoothedScheduler.step_batch (lines 210-234) restated, for max_eps 0.2, start 2,
# length 3, 7 batches per epoch, mid 0.25, beta 4. Run: /usr/bin/python3 gen_sched.py > sched.json
import json
max_eps, start, length, E, mid_point, beta = 0.2, 2, 3, 7, 0.25, 4.0
out = []
for step in range(0, 6 * E):
    init_step = (start - 1) * E
    final_step = (start + length - 1) * E
    mid_step = int((final_step - init_step) * mid_point) + init_step
    t = (mid_step - init_step) ** (beta - 1.)
    alpha = max_eps / ((final_step - mid_step) * beta * t + (mid_step - init_step) * t)
    mid_value = alpha * (mid_step - init_step) ** beta
    is_ramp = float(step > init_step)
    is_linear = float(step >= mid_step)
    exp_value = alpha * float(step - init_step) ** beta
    linear_value = min(mid_value + (max_eps - mid_value) * (step - mid_step) / (final_step - mid_step), max_eps)
    out.append(is_ramp * ((1.0 - is_linear) * exp_value + is_linear * linear_value))
print(json.dumps({"max_eps": max_eps, "start": start, "length": length, "epoch_length": E, "eps": out}))
