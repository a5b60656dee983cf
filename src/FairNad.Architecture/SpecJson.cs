using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace FairNad.Architecture;

/// <summary>A spec file that cannot be read; the message names the source and the JSON path.</summary>
public sealed class SpecFormatException(string message) : Exception(message);

/// <summary>
/// JSON of specs. The canonical form, which the id hashes, has sorted keys, normalised numbers, every operator parameter
/// spelled out (defaults included), no name, and block nodes renamed n0, n1, ... in a canonical topological order, so specs
/// that differ only in node naming, declaration order or the order of a commutative operator's inputs share one id.
/// </summary>
public static class SpecJson
{
    public const int FormatVersion = 1;

    public static string Hash(ArchitectureSpec spec) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Canonical(spec))));

    /// <summary>The canonical form: one line, no insignificant whitespace.</summary>
    public static string Canonical(ArchitectureSpec spec) => Write(Canonicalizer.Canonicalize(spec), indented: false, includeName: false);

    /// <summary>Readable JSON with the name, keys sorted, two-space indentation and a final newline.</summary>
    public static string Write(ArchitectureSpec spec, bool indented = true, bool includeName = true)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WritePropertyName("block");
            WriteBlock(w, spec.Block);
            w.WriteNumber("format", FormatVersion);
            w.WriteStartObject("head");
            WriteNumber(w, "dropout", spec.Head.Dropout);
            w.WriteString("preActivation", spec.Head.PreActivation);
            w.WriteEndObject();
            w.WriteStartObject("input");
            w.WriteNumber("channels", spec.Input.Channels);
            w.WriteNumber("classes", spec.Input.Classes);
            w.WriteNumber("resolution", spec.Input.Resolution);
            w.WriteEndObject();
            if (includeName)
            {
                w.WriteString("name", spec.Name);
            }

            w.WriteStartArray("stages");
            for (var i = 0; i < spec.Stages.Count; i++)
            {
                var stage = spec.Stages[i];
                w.WriteStartObject();
                if (stage.Block is { } own)
                {
                    // A stage without a block of its own writes no "block" field, so specs without stage blocks keep their text and id.
                    w.WritePropertyName("block");
                    if (i > 0 && spec.Stages[i - 1].Block is { } previous && BlockText(previous) == BlockText(own))
                    {
                        w.WriteStringValue(PreviousBlock);
                    }
                    else
                    {
                        WriteBlock(w, own);
                    }
                }

                w.WriteNumber("blocks", stage.Blocks);
                w.WriteString("downsample", stage.Downsample.ToString());
                w.WriteNumber("width", stage.Width);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("stem");
            w.WriteString("activation", spec.Stem.Activation);
            w.WriteNumber("channels", spec.Stem.Channels);
            w.WriteNumber("kernel", spec.Stem.Kernel);
            w.WriteString("kind", spec.Stem.Kind.ToString());
            w.WriteNumber("stride", spec.Stem.Stride);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        var text = Encoding.UTF8.GetString(stream.ToArray());
        return indented ? text.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n" : text;
    }

    /// <summary>The value of a stage's <c>block</c> field that means "the same block as the previous stage".</summary>
    public const string PreviousBlock = "previous";

    private static void WriteBlock(Utf8JsonWriter w, BlockSpec block)
    {
        w.WriteStartObject();
        w.WriteStartArray("nodes");
        foreach (var node in block.Nodes)
        {
            w.WriteStartObject();
            w.WriteString("id", node.Id);
            w.WriteStartArray("inputs");
            foreach (var input in node.Inputs)
            {
                w.WriteStringValue(input);
            }

            w.WriteEndArray();
            w.WriteString("op", node.Op);
            w.WriteStartObject("params");
            foreach (var (key, value) in node.Params.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                w.WritePropertyName(key);
                WriteValue(w, value);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteString("output", block.Output);
        w.WriteEndObject();
    }

    /// <summary>One block as compact JSON: two blocks are the same design when these texts are equal.</summary>
    internal static string BlockText(BlockSpec block)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            WriteBlock(w, block);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Reads a spec; <paramref name="source"/> (a file name) prefixes every error.</summary>
    public static ArchitectureSpec Read(string json, string source = "spec")
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new SpecFormatException($"{source}: not valid JSON: {e.Message}");
        }

        using (document)
        {
            var r = new Reader(source);
            var root = r.Object(document.RootElement, "$");
            if (root.TryGetProperty("format", out var format) && r.Int(format, "$.format") != FormatVersion)
            {
                throw new SpecFormatException($"{source}: $.format: version {format} is not supported (this build reads {FormatVersion})");
            }

            var input = r.Object(r.Required(root, "$", "input"), "$.input");
            var stem = r.Object(r.Required(root, "$", "stem"), "$.stem");
            var head = r.Object(r.Required(root, "$", "head"), "$.head");
            var block = r.Object(r.Required(root, "$", "block"), "$.block");
            var stages = r.Array(r.Required(root, "$", "stages"), "$.stages");
            r.NoExtra(root, "$", Fields.Root);
            r.NoExtra(input, "$.input", Fields.Input);
            r.NoExtra(stem, "$.stem", Fields.Stem);
            r.NoExtra(head, "$.head", Fields.Head);

            var shared = ReadBlock(r, block, "$.block");
            var stageSpecs = new List<StageSpec>();
            for (var i = 0; i < stages.Count; i++)
            {
                var path = $"$.stages[{i}]";
                var stage = r.Object(stages[i], path);
                r.NoExtra(stage, path, [.. Fields.Stage, Fields.StageBlock]);
                BlockSpec? own = null;
                if (stage.TryGetProperty(Fields.StageBlock, out var ownBlock))
                {
                    if (ownBlock.ValueKind == JsonValueKind.String)
                    {
                        if (ownBlock.GetString() != PreviousBlock)
                        {
                            throw r.Error($"{path}.block", $"must be a block object or \"{PreviousBlock}\", found \"{ownBlock.GetString()}\"");
                        }

                        own = i > 0
                            ? stageSpecs[i - 1].Block ?? shared
                            : throw r.Error($"{path}.block", $"stage 0 has no previous stage; \"{PreviousBlock}\" may only be used from stage 1 on");
                    }
                    else
                    {
                        own = ReadBlock(r, r.Object(ownBlock, $"{path}.block"), $"{path}.block");
                    }
                }

                stageSpecs.Add(new StageSpec(r.Int(r.Required(stage, path, "blocks"), $"{path}.blocks"), r.Int(r.Required(stage, path, "width"), $"{path}.width"),
                    r.Enum<DownsampleKind>(r.Required(stage, path, "downsample"), $"{path}.downsample"), own));
            }

            return new ArchitectureSpec(
                root.TryGetProperty("name", out var name) ? r.String(name, "$.name") : string.Empty,
                new InputSpec(r.Int(r.Required(input, "$.input", "channels"), "$.input.channels"), r.Int(r.Required(input, "$.input", "resolution"), "$.input.resolution"),
                    r.Int(r.Required(input, "$.input", "classes"), "$.input.classes")),
                new StemSpec(r.Enum<StemKind>(r.Required(stem, "$.stem", "kind"), "$.stem.kind"), r.Int(r.Required(stem, "$.stem", "channels"), "$.stem.channels"),
                    r.Int(r.Required(stem, "$.stem", "kernel"), "$.stem.kernel"), r.Int(r.Required(stem, "$.stem", "stride"), "$.stem.stride"),
                    r.String(r.Required(stem, "$.stem", "activation"), "$.stem.activation")),
                stageSpecs,
                shared,
                new HeadSpec(r.String(r.Required(head, "$.head", "preActivation"), "$.head.preActivation"), r.Number(r.Required(head, "$.head", "dropout"), "$.head.dropout")));
        }
    }

    private static BlockSpec ReadBlock(Reader r, JsonElement block, string blockPath)
    {
        r.NoExtra(block, blockPath, Fields.Block);
        var nodes = r.Array(r.Required(block, blockPath, "nodes"), $"{blockPath}.nodes").Select((node, i) =>
        {
            var path = $"{blockPath}.nodes[{i}]";
            r.Object(node, path);
            r.NoExtra(node, path, Fields.Node);
            var parameters = new SortedDictionary<string, ParamValue>(StringComparer.Ordinal);
            if (node.TryGetProperty("params", out var p))
            {
                foreach (var property in r.Object(p, $"{path}.params").EnumerateObject())
                {
                    parameters[property.Name] = property.Value.ValueKind switch
                    {
                        JsonValueKind.Number => property.Value.GetDouble(),
                        JsonValueKind.String => property.Value.GetString()!,
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        _ => throw r.Error($"{path}.params.{property.Name}", "must be a number, string or boolean"),
                    };
                }
            }

            var inputs = r.Array(r.Required(node, path, "inputs"), $"{path}.inputs").Select((x, j) => r.String(x, $"{path}.inputs[{j}]")).ToList();
            return new NodeSpec(r.String(r.Required(node, path, "id"), $"{path}.id"), r.String(r.Required(node, path, "op"), $"{path}.op"), inputs, parameters);
        }).ToList();
        return new BlockSpec(nodes, r.String(r.Required(block, blockPath, "output"), $"{blockPath}.output"));
    }

    /// <summary>
    /// The fields <see cref="Read"/> accepts in each object of a spec, in the order it reads them. The LLM's format schema
    /// (<see cref="SpecSchema"/>) lists exactly these, in this order.
    /// </summary>
    internal static class Fields
    {
        public static readonly string[] Root = ["format", "name", "input", "stem", "stages", "block", "head"];
        public static readonly string[] Input = ["channels", "resolution", "classes"];
        public static readonly string[] Stem = ["kind", "channels", "kernel", "stride", "activation"];
        public static readonly string[] Stage = ["blocks", "width", "downsample"];

        /// <summary>
        /// A stage's optional own block (an object like <see cref="Block"/>, or <see cref="PreviousBlock"/>). Not in
        /// <see cref="Stage"/>: only the stage-wise format schema offers stage blocks (see <see cref="SpecSchema.ToNodeStageWise"/>).
        /// </summary>
        public const string StageBlock = "block";
        public static readonly string[] Block = ["nodes", "output"];
        public static readonly string[] Node = ["id", "op", "inputs", "params"];
        public static readonly string[] Head = ["preActivation", "dropout"];
    }

    private static void WriteValue(Utf8JsonWriter w, ParamValue value)
    {
        if (value.Number is { } n)
        {
            WriteRaw(w, n);
        }
        else if (value.Text is { } t)
        {
            w.WriteStringValue(t);
        }
        else
        {
            w.WriteBooleanValue(value.Flag!.Value);
        }
    }

    private static void WriteNumber(Utf8JsonWriter w, string name, double value)
    {
        w.WritePropertyName(name);
        WriteRaw(w, value);
    }

    /// <summary>Integers without a decimal point, other numbers in the shortest round-trip form, -0 as 0.</summary>
    private static void WriteRaw(Utf8JsonWriter w, double value)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentException($"{value} cannot be written to JSON");
        }

        if (value == 0)
        {
            value = 0;
        }

        w.WriteRawValue(value == Math.Floor(value) && Math.Abs(value) < 1e15
            ? ((long)value).ToString(CultureInfo.InvariantCulture)
            : value.ToString("R", CultureInfo.InvariantCulture));
    }

    private sealed class Reader(string source)
    {
        public SpecFormatException Error(string path, string message) => new($"{source}: {path}: {message}");

        public JsonElement Required(JsonElement parent, string path, string name) =>
            parent.TryGetProperty(name, out var value) ? value : throw Error(path, $"missing required field '{name}'");

        public JsonElement Object(JsonElement element, string path) =>
            element.ValueKind == JsonValueKind.Object ? element : throw Error(path, $"expected an object, found {element.ValueKind}");

        public List<JsonElement> Array(JsonElement element, string path) =>
            element.ValueKind == JsonValueKind.Array ? element.EnumerateArray().ToList() : throw Error(path, $"expected an array, found {element.ValueKind}");

        public string String(JsonElement element, string path) =>
            element.ValueKind == JsonValueKind.String ? element.GetString()! : throw Error(path, $"expected a string, found {element.ValueKind}");

        public double Number(JsonElement element, string path) =>
            element.ValueKind == JsonValueKind.Number ? element.GetDouble() : throw Error(path, $"expected a number, found {element.ValueKind}");

        public int Int(JsonElement element, string path) =>
            element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var value) ? value : throw Error(path, $"expected an integer, found {element}");

        public T Enum<T>(JsonElement element, string path)
            where T : struct, System.Enum =>
            System.Enum.TryParse<T>(String(element, path), ignoreCase: true, out var value) && System.Enum.IsDefined(value)
                ? value
                : throw Error(path, $"'{element.GetString()}' is not one of {string.Join(", ", System.Enum.GetNames<T>())}");

        public void NoExtra(JsonElement element, string path, params string[] allowed)
        {
            foreach (var property in element.EnumerateObject().Where(p => !allowed.Contains(p.Name)))
            {
                throw Error(path, $"unknown field '{property.Name}'; allowed: {string.Join(", ", allowed)}");
            }
        }
    }
}
