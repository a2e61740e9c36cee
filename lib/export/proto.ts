/**
 * The part of the ONNX protobuf schema (onnx/onnx.proto, the IR of the ONNX specification) that
 * the exporter writes, declared for protobufjs, which does the wire encoding. Only the messages
 * and fields neurone fills are declared: a protobuf reader skips nothing it needs, since a
 * message without a field is the same as one with the field left at its default. The field
 * numbers are the specification's.
 * @internal
 */
import { Root, Type } from 'protobufjs/light';

const repeated = (type: string, id: number): { type: string; id: number; rule: 'repeated' } => ({ type, id, rule: 'repeated' });

const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: repeated('OperatorSetIdProto', 8),
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: { type: 'string', id: 2 },
            initializer: repeated('TensorProto', 5),
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
          },
        },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: repeated('AttributeProto', 5),
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            ints: repeated('int64', 8),
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: repeated('int64', 1),
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: {
          fields: { tensorType: { type: 'TensorTypeProto', id: 1 } },
        },
        // TypeProto.Tensor in the schema; a nested message is encoded like any other.
        TensorTypeProto: { fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
        TensorShapeProto: { fields: { dim: repeated('Dimension', 1) } },
        // TensorShapeProto.Dimension: a size or a symbolic name.
        Dimension: { fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } } },
      },
    },
  },
};

/** AttributeProto.AttributeType values used here. @internal */
export const ATTRIBUTE = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;
/** TensorProto.DataType values used here. @internal */
export const DATA_TYPE = { FLOAT: 1, INT64: 7 } as const;

let model: Type | undefined;

/** The ModelProto type, built on first use. @internal */
export function modelProto(): Type {
  model ??= Root.fromJSON(SCHEMA).lookupType('onnx.ModelProto');
  return model;
}
