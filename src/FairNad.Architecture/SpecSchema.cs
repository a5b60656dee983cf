using System.Text.Json;
using System.Text.Json.Nodes;

namespace FairNad.Architecture;

/// <summary>
/// The JSON schema of a spec as <see cref="SpecJson.Read"/> accepts it, generated from the IR's own definitions: the
/// reader's fields (<see cref="SpecJson.Fields"/>, in its order), the enums <see cref="StemKind"/> and
/// <see cref="DownsampleKind"/>, the operators offered to the LLM (<see cref="Operators.Offered"/>: one <c>anyOf</c> branch per operator
/// with its arity and typed parameters), <see cref="Operators.Activations"/> and the ranges of
/// <see cref="ArchitectureLimits"/> that <see cref="ArchitectureAnalyzer"/> checks. The LLM-driven mutation sends it as
/// Ollama's <c>format</c>, which llama.cpp turns into a grammar, so an answer always parses into a well-typed spec.
/// </summary>
/// <remarks>
/// Only keywords llama.cpp's json-schema-to-grammar understands are used (type, properties, required,
/// additionalProperties, enum, const, anyOf, items, minItems, maxItems, minimum, maximum, exclusiveMaximum, minLength).
/// The grammar enforces integer ranges but not number ranges; those, and what no schema can say (shape rules, odd
/// kernels, a patchify stem's kernel = stride, ids that are unique and not <c>input</c>, inputs naming existing nodes,
/// acyclicity, the budget), are left to validation, whose errors go back to the LLM for repair. Enums are written as the
/// C# names <see cref="SpecJson.Write"/> writes (the reader also accepts other casings). A stage's own block
/// (<see cref="SpecJson.Fields.StageBlock"/>) is offered only by <see cref="ToNodeStageWise"/>, for the reason
/// <see cref="Operators.NotYetOffered"/> gives. The text is deterministic
/// (operators sorted by name, fields in the reader's order, parameters in the library's order): it is part of LLM cache keys.
/// </remarks>
public static class SpecSchema
{
    /// <summary>The schema, compact (no whitespace).</summary>
    public static string Text { get; } = Build().ToJsonString();

    public static JsonElement Schema { get; } = JsonDocument.Parse(Text).RootElement.Clone();

    /// <summary>A fresh mutable copy, to embed in a larger schema.</summary>
    public static JsonObject ToNode() => JsonNode.Parse(Text)!.AsObject();

    /// <summary>
    /// The schema with the <c>custom</c> operator (<see cref="Operators.Custom"/>) as one more branch: for an LLM that may
    /// answer with operators it writes. <see cref="Text"/>, without it, stays the fixed library's.
    /// </summary>
    public static JsonObject ToNodeWithCustom() => Build(includeCustom: true);

    /// <summary>
    /// The schema for mutating a stage-wise parent: every operator of the library (<see cref="Operators.NotYetOffered"/>
    /// included) and a stage's optional own block (a block object, or <see cref="SpecJson.PreviousBlock"/>), so the answer
    /// can keep what the parent has. Used only for such parents, so every other prompt and schema stays as recorded.
    /// </summary>
    public static JsonObject ToNodeStageWise(bool includeCustom) => Build(includeCustom, stageWise: true);

    /// <summary>Generates the schema anew (tests check that this gives the same text every time).</summary>
    internal static JsonObject Build(bool includeCustom = false, bool stageWise = false)
    {
        var activations = new[] { Operators.NoActivation }.Concat(Operators.Activations).ToArray();
        var library = stageWise ? Operators.All : Operators.Offered;
        var node = new JsonObject
        {
            ["anyOf"] = new JsonArray((includeCustom ? library.Append(Operators.Custom) : library).OrderBy(o => o.Name, StringComparer.Ordinal).Select(o => (JsonNode?)OperatorNode(o)).ToArray()),
        };
        JsonObject Block() => Object(SpecJson.Fields.Block, optional: [], new()
        {
            ["nodes"] = ArrayOf(node.DeepClone(), minItems: 1),
            ["output"] = NonEmptyString(),
        });
        var stage = new Dictionary<string, JsonNode>
        {
            ["blocks"] = Integer(1, ArchitectureLimits.MaxBlocks),
            ["width"] = Integer(1, ArchitectureLimits.MaxWidth),
            ["downsample"] = Names(Enum.GetNames<DownsampleKind>()),
        };
        if (stageWise)
        {
            stage[SpecJson.Fields.StageBlock] = new JsonObject { ["anyOf"] = new JsonArray(Block(), Names([SpecJson.PreviousBlock])) };
        }

        return Object(SpecJson.Fields.Root, optional: ["format", "name"], new()
        {
            ["format"] = new JsonObject { ["const"] = SpecJson.FormatVersion },
            ["name"] = new JsonObject { ["type"] = "string" },
            ["input"] = Object(SpecJson.Fields.Input, optional: [], new()
            {
                ["channels"] = Integer(1, ArchitectureLimits.MaxWidth),
                ["resolution"] = Integer(1, ArchitectureLimits.MaxResolution),
                ["classes"] = Integer(ArchitectureLimits.MinClasses, ArchitectureLimits.MaxClasses),
            }),
            ["stem"] = Object(SpecJson.Fields.Stem, optional: [], new()
            {
                ["kind"] = Names(Enum.GetNames<StemKind>()),
                ["channels"] = Integer(1, ArchitectureLimits.MaxWidth),
                ["kernel"] = Integer(1, ArchitectureLimits.MaxStemKernel),
                ["stride"] = Integer(1, ArchitectureLimits.MaxStemKernel),
                ["activation"] = Names(activations),
            }),
            ["stages"] = ArrayOf(stageWise
                ? Object([.. SpecJson.Fields.Stage, SpecJson.Fields.StageBlock], optional: [SpecJson.Fields.StageBlock], stage)
                : Object(SpecJson.Fields.Stage, optional: [], stage), minItems: 1),
            ["block"] = Block(),
            ["head"] = Object(SpecJson.Fields.Head, optional: [], new()
            {
                ["preActivation"] = Names(activations),
                ["dropout"] = new JsonObject { ["type"] = "number", ["minimum"] = 0, ["exclusiveMaximum"] = ArchitectureLimits.HeadDropoutBelow },
            }),
        });
    }

    /// <summary>A node that applies <paramref name="op"/>: its name, its arity, and its parameters only (all optional: defaults apply).</summary>
    private static JsonObject OperatorNode(OperatorDefinition op)
    {
        var parameters = new JsonObject();
        foreach (var p in op.Params)
        {
            parameters[p.Name] = Parameter(p);
        }

        return Object(SpecJson.Fields.Node, optional: ["params"], new()
        {
            ["id"] = NonEmptyString(),
            ["op"] = new JsonObject { ["const"] = op.Name },
            ["inputs"] = ArrayOf(NonEmptyString(), op.MinInputs, op.MaxInputs),
            ["params"] = new JsonObject { ["type"] = "object", ["properties"] = parameters, ["additionalProperties"] = false },
        });
    }

    private static JsonObject Parameter(ParamSchema p)
    {
        switch (p.Kind)
        {
            case ParamKind.Int:
                return Range(new JsonObject { ["type"] = "integer" }, p, v => JsonValue.Create(checked((long)v)));
            case ParamKind.Number:
                return Range(new JsonObject { ["type"] = "number" }, p, v => JsonValue.Create(v));
            case ParamKind.Text:
                return p.Choices is { } choices ? Names(choices) : new JsonObject { ["type"] = "string" };
            case ParamKind.Flag:
                return new JsonObject { ["type"] = "boolean" };
            default:
                throw new InvalidOperationException($"parameter '{p.Name}' has kind {p.Kind}, which the format schema does not know");
        }
    }

    /// <summary>The bounds the parameter sets (<see cref="ParamSchema"/>'s defaults, the extremes of double, mean none).</summary>
    private static JsonObject Range(JsonObject schema, ParamSchema p, Func<double, JsonValue> value)
    {
        if (p.Min > double.MinValue)
        {
            schema["minimum"] = value(p.Min);
        }

        if (p.Max < double.MaxValue)
        {
            schema["maximum"] = value(p.Max);
        }

        return schema;
    }

    /// <summary>
    /// An object with exactly <paramref name="fields"/> in that order, each given a schema in <paramref name="schemas"/>,
    /// all required but <paramref name="optional"/>, nothing else allowed.
    /// </summary>
    private static JsonObject Object(string[] fields, string[] optional, Dictionary<string, JsonNode> schemas)
    {
        var missing = fields.Except(schemas.Keys).Concat(schemas.Keys.Except(fields)).Concat(optional.Except(fields)).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException($"the format schema and the spec reader disagree on the fields {string.Join(", ", missing)}");
        }

        var properties = new JsonObject();
        foreach (var field in fields)
        {
            properties[field] = schemas[field];
        }

        return new JsonObject
        {
            ["type"] = "object",
            ["properties"] = properties,
            ["required"] = Strings(fields.Except(optional)),
            ["additionalProperties"] = false,
        };
    }

    private static JsonObject ArrayOf(JsonNode items, int minItems, int? maxItems = null)
    {
        var schema = new JsonObject { ["type"] = "array", ["items"] = items, ["minItems"] = minItems };
        if (maxItems is { } max)
        {
            schema["maxItems"] = max;
        }

        return schema;
    }

    private static JsonObject Integer(int minimum, int maximum) => new() { ["type"] = "integer", ["minimum"] = minimum, ["maximum"] = maximum };

    private static JsonObject NonEmptyString() => new() { ["type"] = "string", ["minLength"] = 1 };

    private static JsonObject Names(IEnumerable<string> values) => new() { ["type"] = "string", ["enum"] = Strings(values) };

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
}
