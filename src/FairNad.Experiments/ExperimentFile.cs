using System.Text.Json;
using FairNad.Search;

namespace FairNad.Experiments;

/// <summary>
/// Reads experiment files strictly: every field is checked for presence and type, unknown fields are rejected (a typo must
/// not silently fall back to a default), and the values are validated; errors name the file and the field.
/// </summary>
public static class ExperimentFile
{
    /// <summary>The experiment shipped for each dataset: experiments/&lt;dataset&gt;.json.</summary>
    public static string ForDataset(string repositoryRoot, string dataset) => Path.Combine(repositoryRoot, "experiments", $"{dataset}.json");

    /// <exception cref="ExperimentException">the file is missing, malformed or invalid.</exception>
    public static Experiment Load(string path)
    {
        if (Directory.Exists(path))
        {
            throw new ExperimentException($"{path} is a directory; expected an experiment file (JSON)");
        }

        if (!File.Exists(path))
        {
            throw new ExperimentException($"{path}: no such experiment file");
        }

        return Read(File.ReadAllText(path), path);
    }

    /// <exception cref="ExperimentException">the text is malformed or invalid; the message names <paramref name="source"/> and the field.</exception>
    public static Experiment Read(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new ExperimentException($"{source}: not valid JSON ({e.Message})");
        }

        using (document)
        {
            var r = new Fields(document.RootElement, source, "");
            r.Only("schema", "name", "description", "dataset", "fidelity", "parameterBudget", "costObjective", "references", "population", "tournament",
                "batch", "budget", "strategy", "mutation", "seeds", "llm", "evaluation");
            var f = r.Object("fidelity");
            f.Only("epochs", "batchSize", "learningRate", "trainSubset", "validationSubset", "augment", "latencyRepeats", "threads", "device");
            var b = r.Object("budget");
            b.Only("candidates", "minutes");
            var m = r.Object("mutation");
            m.Only("fairIdea", "pareto", "llm");
            var l = r.Object("llm", optional: true);
            l.Only("mode", "model", "maxAttempts", "timeoutSeconds", "contextLength", "stallTimeoutSeconds");
            var e = r.Object("evaluation", optional: true);
            e.Only("jobs", "isolated", "timeoutSeconds", "memoryMb", "warmWorkers");
            var experiment = new Experiment(
                r.Int("schema"),
                r.Text("name"),
                r.Text("description", string.Empty),
                r.Text("dataset"),
                new Fidelity(f.Int("epochs"), f.Int("batchSize"), f.Number("learningRate"), f.OptionalInt("trainSubset"), f.OptionalInt("validationSubset"),
                    f.Flag("augment", true), f.Int("latencyRepeats", 3), f.Int("threads", 1), f.Text("device", "cpu")),
                (long)r.Number("parameterBudget"),
                r.Text("costObjective", "parameters"),
                r.Texts("references", FairNad.Architecture.ReferenceArchitectures.Names),
                r.Int("population"),
                r.Int("tournament", 3),
                r.Int("batch", 1),
                b.Int("candidates"),
                b.OptionalNumber("minutes"),
                r.Text("strategy", "fairnad"),
                new MutationMix(m.Number("fairIdea"), m.Number("pareto"), m.Number("llm")),
                r.Ints("seeds"),
                new LlmOptions(l.Text("mode", "off"), l.Text("model", FairNad.Llm.LlmSettings.DefaultModel), l.Int("maxAttempts", 3), l.OptionalNumber("timeoutSeconds"), l.OptionalInt("contextLength"),
                    l.OptionalNumber("stallTimeoutSeconds")),
                new EvaluationOptions(e.Int("jobs", 1), e.Flag("isolated", true), e.Number("timeoutSeconds", 3600), e.Int("memoryMb", 8192), e.Flag("warmWorkers", true)));
            return Validated(experiment, source);
        }
    }

    /// <exception cref="ExperimentException">the experiment is invalid; the message names <paramref name="source"/> and the field.</exception>
    public static Experiment Validated(Experiment experiment, string source) =>
        experiment.Problem() is { } problem ? throw new ExperimentException($"{source}: {problem}") : experiment;

    private sealed class Fields(JsonElement element, string source, string path)
    {
        private ExperimentException Error(string name, string reason) => new($"{source}: {path}{name}: {reason}");

        public void Only(params string[] names)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                throw new ExperimentException($"{source}: {(path.Length == 0 ? "the file" : path.TrimEnd('.'))} must be a JSON object");
            }

            foreach (var property in element.EnumerateObject().Where(p => !names.Contains(p.Name)))
            {
                throw Error(property.Name, $"unknown field (expected one of {string.Join(", ", names)})");
            }
        }

        private JsonElement? Get(string name) =>
            element.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

        public Fields Object(string name, bool optional = false) => Get(name) switch
        {
            { ValueKind: JsonValueKind.Object } v => new Fields(v, source, $"{path}{name}."),
            null when optional => new Fields(JsonDocument.Parse("{}").RootElement, source, $"{path}{name}."),
            _ => throw Error(name, "missing or not an object"),
        };

        public double Number(string name, double? fallback = null) => Get(name) switch
        {
            { ValueKind: JsonValueKind.Number } v => v.GetDouble(),
            null when fallback is { } f => f,
            null => throw Error(name, "missing"),
            _ => throw Error(name, "must be a number"),
        };

        public double? OptionalNumber(string name) => Get(name) is null ? null : Number(name);

        public int Int(string name, int? fallback = null) => Get(name) switch
        {
            { ValueKind: JsonValueKind.Number } v when v.TryGetInt32(out var i) => i,
            null when fallback is { } f => f,
            null => throw Error(name, "missing"),
            _ => throw Error(name, "must be a whole number"),
        };

        public int? OptionalInt(string name) => Get(name) is null ? null : Int(name);

        public bool Flag(string name, bool fallback) => Get(name) switch
        {
            { ValueKind: JsonValueKind.True } => true,
            { ValueKind: JsonValueKind.False } => false,
            null => fallback,
            _ => throw Error(name, "must be true or false"),
        };

        public string Text(string name, string? fallback = null) => Get(name) switch
        {
            { ValueKind: JsonValueKind.String } v => v.GetString()!,
            null when fallback is not null => fallback,
            null => throw Error(name, "missing"),
            _ => throw Error(name, "must be a string"),
        };

        public IReadOnlyList<string> Texts(string name, IReadOnlyList<string> fallback) => Get(name) switch
        {
            { ValueKind: JsonValueKind.Array } v => v.EnumerateArray().Select((x, i) => x.ValueKind == JsonValueKind.String ? x.GetString()! : throw Error($"{name}[{i}]", "must be a string")).ToList(),
            null => fallback,
            _ => throw Error(name, "must be an array of strings"),
        };

        public IReadOnlyList<int> Ints(string name) => Get(name) switch
        {
            { ValueKind: JsonValueKind.Array } v => v.EnumerateArray().Select((x, i) => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out var n) ? n : throw Error($"{name}[{i}]", "must be a whole number")).ToList(),
            null => throw Error(name, "missing"),
            _ => throw Error(name, "must be an array of whole numbers"),
        };
    }
}
