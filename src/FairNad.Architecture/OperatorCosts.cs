using System.Globalization;
using System.Text;
using System.Text.Json;

namespace FairNad.Architecture;

/// <summary>
/// The measured cost of one application of an LLM-written operator: its contract arguments (input and output channels,
/// stride), the input's spatial size, and what a worker counted: trainable parameters, and multiply-accumulates for one
/// sample (see <c>OperatorVerifier</c>: counted by forward hooks on its convolution and linear layers).
/// </summary>
public sealed record OperatorCost(int InChannels, int OutChannels, int Stride, int Height, int Width, long Parameters, long Macs)
{
    /// <summary>The application this cost belongs to, without the counts: the key of a table.</summary>
    public (int InChannels, int OutChannels, int Stride, int Height, int Width) Key => (InChannels, OutChannels, Stride, Height, Width);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"inChannels {InChannels}, outChannels {OutChannels}, stride {Stride}, input {Height} x {Width}");
}

/// <summary>
/// Where the analysis finds the cost of a <c>custom</c> node: the static analysis cannot know what an LLM-written
/// operator computes, so a worker measures it and the analysis looks it up here.
/// </summary>
public interface IOperatorCosts
{
    /// <summary>The cost of operator <paramref name="reference"/> applied with these arguments, or null when not known.</summary>
    OperatorCost? Find(string reference, int inChannels, int outChannels, int stride, int height, int width);
}

/// <summary>
/// Measured costs of LLM-written operators by operator hash: a run's <c>operators/&lt;hex&gt;.costs.json</c> files, each
/// <c>{"format": "fairnad-operator-costs-1", "reference": "sha256:..", "costs": [{"inChannels", "outChannels", "stride",
/// "height", "width", "parameters", "macs"}, ...]}</c>, costs sorted by their arguments. Counts come from shapes alone,
/// so a measurement never changes: a second, different count for the same application is refused as a changed file.
/// Lookups are exact (<see cref="Find"/>); <see cref="Estimates"/> adds a model for widths never measured, for width fitting.
/// </summary>
public sealed class OperatorCostTable : IOperatorCosts
{
    public const string Format = "fairnad-operator-costs-1";

    /// <summary>What a costs file's name ends with, after the operator's hex digest.</summary>
    public const string Suffix = ".costs.json";

    /// <summary>
    /// The channel counts (input and output, each of both) a worker measures an operator at, besides its applications, at
    /// every stride and input size it is applied with: the corners of the grid <see cref="Estimates"/> interpolates on.
    /// Fixed, so an estimate never depends on which applications happened to be measured before.
    /// </summary>
    public static readonly IReadOnlyList<int> ProbeChannels = [16, 32];

    private readonly SortedDictionary<string, SortedDictionary<(int, int, int, int, int), OperatorCost>> _costs = new(StringComparer.Ordinal);

    // Mutations may verify in parallel; every access goes through this lock.
    private readonly Lock _gate = new();

    /// <summary>The operator references with at least one cost, sorted.</summary>
    public IReadOnlyList<string> References
    {
        get
        {
            lock (_gate)
            {
                return _costs.Keys.ToList();
            }
        }
    }

    /// <summary>Every cost of <paramref name="reference"/>, sorted by arguments.</summary>
    public IReadOnlyList<OperatorCost> CostsOf(string reference)
    {
        lock (_gate)
        {
            return _costs.TryGetValue(reference, out var costs) ? costs.Values.ToList() : [];
        }
    }

    public OperatorCost? Find(string reference, int inChannels, int outChannels, int stride, int height, int width)
    {
        lock (_gate)
        {
            return _costs.TryGetValue(reference, out var costs) && costs.TryGetValue((inChannels, outChannels, stride, height, width), out var cost) ? cost : null;
        }
    }

    /// <summary>Adds a measurement (no-op when the same one is present).</summary>
    /// <exception cref="InvalidDataException">the table holds a different count for the same application.</exception>
    public void Add(string reference, OperatorCost cost) => Add(reference, cost, "the table");

    /// <summary>The file <paramref name="reference"/>'s costs are kept in: its hex digest and <see cref="Suffix"/>.</summary>
    public static string FileName(string reference) =>
        OperatorSources.IsReference(reference) ? reference[OperatorSources.Prefix.Length..] + Suffix : throw new ArgumentException($"'{reference}' is not an operator reference");

    /// <summary>Every <c>*.costs.json</c> of <paramref name="directory"/> (an empty table when the folder does not exist).</summary>
    /// <exception cref="InvalidDataException">a file is malformed; the message names the file and the field.</exception>
    public static OperatorCostTable Load(string directory)
    {
        var table = new OperatorCostTable();
        if (!Directory.Exists(directory))
        {
            return table;
        }

        foreach (var path in Directory.GetFiles(directory, "*" + Suffix).Order(StringComparer.Ordinal))
        {
            var (reference, costs) = Read(path);
            foreach (var cost in costs)
            {
                table.Add(reference, cost, path);
            }
        }

        return table;
    }

    /// <summary>
    /// Writes every operator's costs to <paramref name="directory"/>, merged with what its file already holds (so two
    /// tables never lose each other's measurements), each file atomically (a temporary file moved over it) and only when
    /// its content changes.
    /// </summary>
    /// <exception cref="InvalidDataException">a file on disk is malformed or holds a different count for an application.</exception>
    public void Write(string directory)
    {
        lock (_gate)
        {
            WriteLocked(directory);
        }
    }

    private void WriteLocked(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var (reference, costs) in _costs)
        {
            var path = Path.Combine(directory, FileName(reference));
            var merged = new OperatorCostTable();
            if (File.Exists(path))
            {
                var (onDisk, existing) = Read(path);
                if (onDisk != reference)
                {
                    throw new InvalidDataException($"{path}: field 'reference' is {onDisk}, but the file name says {reference}");
                }

                foreach (var cost in existing)
                {
                    merged.Add(reference, cost, path);
                }
            }

            foreach (var cost in costs.Values)
            {
                merged.Add(reference, cost, path);
            }

            var text = ToJson(reference, merged.CostsOf(reference));
            if (File.Exists(path) && File.ReadAllText(path, Encoding.UTF8) == text)
            {
                continue;
            }

            var temporary = path + ".tmp";
            File.WriteAllText(temporary, text, new UTF8Encoding(false));
            File.Move(temporary, path, overwrite: true);
        }
    }

    /// <summary>The deterministic text of a costs file: indented, invariant numbers, costs sorted by arguments.</summary>
    public static string ToJson(string reference, IEnumerable<OperatorCost> costs)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("format", Format);
            writer.WriteString("reference", reference);
            writer.WriteStartArray("costs");
            foreach (var cost in costs.OrderBy(c => c.Key))
            {
                writer.WriteStartObject();
                writer.WriteNumber("inChannels", cost.InChannels);
                writer.WriteNumber("outChannels", cost.OutChannels);
                writer.WriteNumber("stride", cost.Stride);
                writer.WriteNumber("height", cost.Height);
                writer.WriteNumber("width", cost.Width);
                writer.WriteNumber("parameters", cost.Parameters);
                writer.WriteNumber("macs", cost.Macs);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()).ReplaceLineEndings("\n") + "\n";
    }

    /// <summary>Reads one costs file.</summary>
    /// <exception cref="InvalidDataException">it is not JSON, lacks a field, or a field has a bad value; the message names the file and field.</exception>
    public static (string Reference, IReadOnlyList<OperatorCost> Costs) Read(string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(path, Encoding.UTF8));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not JSON ({e.Message})");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{path}: must be a JSON object");
            }

            var format = Text(root, "format", path);
            if (format != Format)
            {
                throw new InvalidDataException($"{path}: field 'format' is '{format}', expected '{Format}'");
            }

            var reference = Text(root, "reference", path);
            if (!OperatorSources.IsReference(reference))
            {
                throw new InvalidDataException($"{path}: field 'reference' is '{reference}', not sha256:<64 lower-case hex digits>");
            }

            if (Path.GetFileName(path) != FileName(reference))
            {
                throw new InvalidDataException($"{path}: field 'reference' is {reference}, but the file name says otherwise (expected {FileName(reference)})");
            }

            if (!root.TryGetProperty("costs", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"{path}: field 'costs' must be an array");
            }

            var costs = new List<OperatorCost>();
            var i = 0;
            foreach (var item in list.EnumerateArray())
            {
                var at = $"costs[{i++}]";
                if (item.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException($"{path}: field '{at}' must be an object");
                }

                costs.Add(new OperatorCost(
                    Count(item, "inChannels", path, at, 1), Count(item, "outChannels", path, at, 1), Count(item, "stride", path, at, 1),
                    Count(item, "height", path, at, 1), Count(item, "width", path, at, 1), Long(item, "parameters", path, at), Long(item, "macs", path, at)));
            }

            return (reference, costs);
        }
    }

    /// <summary>
    /// An estimate at any width: per operator, stride and input size, the model f(in, out) = a·in·out + b·in + c·out + d
    /// through the four measured <see cref="ProbeChannels"/> corners (exact for operators whose layers' channel counts are
    /// linear in in and out, e.g. convolutions from in to out; not for odd roundings such as (out + 1) / 2), or null
    /// without them. It reads the corners alone, never other measurements, so an estimate does not depend on what else
    /// the table happens to hold. Only width fitting uses it; what is recorded and checked against the budget is always
    /// measured (see docs/architectures.md).
    /// </summary>
    public IOperatorCosts Estimates => new Estimator(this);

    private void Add(string reference, OperatorCost cost, string where)
    {
        lock (_gate)
        {
            AddLocked(reference, cost, where);
        }
    }

    private void AddLocked(string reference, OperatorCost cost, string where)
    {
        if (!OperatorSources.IsReference(reference))
        {
            throw new ArgumentException($"'{reference}' is not an operator reference");
        }

        if (!_costs.TryGetValue(reference, out var costs))
        {
            _costs[reference] = costs = new();
        }

        if (costs.TryGetValue(cost.Key, out var known))
        {
            if (known != cost)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"{where}: operator {reference} ({cost}) has two measurements, {known.Parameters} parameters and {known.Macs} MACs, and {cost.Parameters} and {cost.Macs}; counts from shapes never change, so a file was changed"));
            }

            return;
        }

        costs[cost.Key] = cost;
    }

    private static string Text(JsonElement element, string name, string path) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new InvalidDataException($"{path}: field '{name}' must be a string");

    private static long Long(JsonElement element, string name, string path, string at) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) && n >= 0
            ? n
            : throw new InvalidDataException($"{path}: field '{at}.{name}' must be a whole number of at least 0");

    private static int Count(JsonElement element, string name, string path, string at, int least) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) && n >= least
            ? n
            : throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{path}: field '{at}.{name}' must be a whole number of at least {least}"));

    private sealed class Estimator(OperatorCostTable table) : IOperatorCosts
    {
        public OperatorCost? Find(string reference, int inChannels, int outChannels, int stride, int height, int width)
        {
            var (i1, i2) = (ProbeChannels[0], ProbeChannels[1]);
            OperatorCost? Corner(int i, int o) => table.Find(reference, i, o, stride, height, width);
            if (Corner(i1, i1) is not { } c11 || Corner(i2, i1) is not { } c21 || Corner(i1, i2) is not { } c12 || Corner(i2, i2) is not { } c22)
            {
                return null;
            }

            // Bilinear through the corners, extrapolated; in decimal so the exact cases stay exact.
            var u = (decimal)(inChannels - i1) / (i2 - i1);
            var v = (decimal)(outChannels - i1) / (i2 - i1);
            long At(Func<OperatorCost, long> count)
            {
                var value = (count(c11) * (1 - u) * (1 - v)) + (count(c21) * u * (1 - v)) + (count(c12) * (1 - u) * v) + (count(c22) * u * v);
                return value <= 0 ? 0 : value >= long.MaxValue ? long.MaxValue : (long)Math.Round(value, MidpointRounding.AwayFromZero);
            }

            try
            {
                return new OperatorCost(inChannels, outChannels, stride, height, width, At(c => c.Parameters), At(c => c.Macs));
            }
            catch (OverflowException)
            {
                return new OperatorCost(inChannels, outChannels, stride, height, width, long.MaxValue, long.MaxValue);
            }
        }
    }
}
