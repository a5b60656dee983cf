using System.Text.Json;
using System.Text.Json.Nodes;
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

    /// <summary>
    /// The fields a profile (an entry of the file's "profiles" table) may set. Dataset, strategy, mutation mix and cost
    /// objective are left out on purpose: a profile changes how much is spent (fidelity, budget, seeds, LLM use, workers),
    /// never what is searched, so its run exercises the same search as the file.
    /// </summary>
    public static readonly IReadOnlyList<string> ProfileFields =
        ["description", "fidelity", "ladder", "noise", "parameterBudget", "references", "population", "tournament", "batch", "budget", "seeds", "llm", "evaluation", "executor"];

    /// <summary>Whether <paramref name="name"/> can name a profile: it becomes part of run folders and git refs.</summary>
    public static bool IsProfileName(string name) =>
        name.Length is > 0 and <= 32 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>The experiment in <paramref name="path"/>, with its profile <paramref name="profile"/> applied when given.</summary>
    /// <exception cref="ExperimentException">the file is missing, malformed or invalid, or has no such profile.</exception>
    public static Experiment Load(string path, string? profile = null)
    {
        if (Directory.Exists(path))
        {
            throw new ExperimentException($"{path} is a directory; expected an experiment file (JSON)");
        }

        if (!File.Exists(path))
        {
            throw new ExperimentException($"{path}: no such experiment file");
        }

        return Read(File.ReadAllText(path), path, profile);
    }

    /// <summary>
    /// Reads an experiment. With <paramref name="profile"/>, that entry of the file's "profiles" table is merged over the
    /// file first (objects field by field, anything else replaced) and the result is read and validated like a file of its
    /// own. Every profile is checked on every read, asked for or not, so a broken preset fails where it is written.
    /// </summary>
    /// <exception cref="ExperimentException">the text is malformed or invalid, or has no such profile; the message names <paramref name="source"/> and the field.</exception>
    public static Experiment Read(string json, string source, string? profile = null)
    {
        var file = Parse(json, source);
        var table = file["profiles"]?.DeepClone();
        file.Remove("profiles");

        // The file's own fields first: a problem there is reported as the file's, not as that of each profile that inherits it.
        var experiment = ReadFields(file, source);
        var profiles = Profiles(file, table, source);
        var presets = profiles.ToDictionary(p => p.Key, p => ReadFields(Merge(file, p.Key, p.Value), $"{source} (profile {p.Key})"));
        if (profile is null)
        {
            return experiment;
        }

        return presets.TryGetValue(profile, out var chosen) ? chosen : throw new ExperimentException(presets.Count == 0
            ? $"{source}: no profile '{profile}': the file has no \"profiles\" table"
            : $"{source}: no profile '{profile}'; the file's profiles are {string.Join(", ", presets.Keys)}");
    }

    private static JsonObject Parse(string json, string source)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new ExperimentException($"{source}: not valid JSON ({e.Message})");
        }

        if (root is not JsonObject file)
        {
            throw new ExperimentException($"{source}: the file must be a JSON object");
        }

        try
        {
            // A JsonObject reads its fields lazily: counting them now reports a field given twice here, as bad JSON.
            _ = file.Count;
            return file;
        }
        catch (ArgumentException e)
        {
            throw new ExperimentException($"{source}: not valid JSON ({e.Message})");
        }
    }

    /// <summary>The file's profiles by name, each checked to set only <see cref="ProfileFields"/>.</summary>
    private static Dictionary<string, JsonObject> Profiles(JsonObject file, JsonNode? node, string source)
    {
        var result = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        if (node is null)
        {
            return result;
        }

        if (node is not JsonObject table)
        {
            throw new ExperimentException($"{source}: profiles: must be an object of named presets, e.g. {{\"ci\": {{\"fidelity\": {{\"epochs\": 1}}}}}}");
        }

        if (file.ContainsKey("profile"))
        {
            throw new ExperimentException($"{source}: profile: a file with \"profiles\" must not name an applied profile itself (--profile applies one)");
        }

        foreach (var (name, value) in table)
        {
            if (!IsProfileName(name))
            {
                throw new ExperimentException($"{source}: profiles.{name}: use 1 to 32 letters, digits, '-' and '_' in a profile name (it becomes part of run and branch names)");
            }

            if (value is not JsonObject preset)
            {
                throw new ExperimentException($"{source}: profiles.{name}: must be an object of the fields it changes");
            }

            foreach (var field in preset.Select(p => p.Key).Where(k => !ProfileFields.Contains(k)))
            {
                throw new ExperimentException(
                    $"{source}: profiles.{name}.{field}: a profile may set only {string.Join(", ", ProfileFields)}; it keeps the file's dataset, strategy and mutation, so its run is the same search");
            }

            result[name] = preset;
        }

        return result;
    }

    /// <summary>The file with <paramref name="preset"/> laid over it, objects merged field by field, and the profile's name recorded.</summary>
    private static JsonObject Merge(JsonObject file, string name, JsonObject preset)
    {
        static void Over(JsonObject target, JsonObject source)
        {
            foreach (var (key, value) in source)
            {
                if (value is JsonObject inner && target[key] is JsonObject existing)
                {
                    Over(existing, inner);
                }
                else
                {
                    target[key] = value?.DeepClone();
                }
            }
        }

        var merged = (JsonObject)file.DeepClone();
        Over(merged, preset);
        merged["profile"] = name;
        return merged;
    }

    private static Experiment ReadFields(JsonObject file, string source)
    {
        using (var document = JsonDocument.Parse(file.ToJsonString()))
        {
            var r = new Fields(document.RootElement, source, "");
            r.Only("schema", "name", "profile", "description", "dataset", "fidelity", "ladder", "noise", "parameterBudget", "costObjective", "references", "space", "population", "tournament",
                "batch", "budget", "strategy", "mutation", "seeds", "llm", "evaluation", "executor");
            var f = r.Object("fidelity");
            f.Only("epochs", "batchSize", "learningRate", "trainSubset", "validationSubset", "augment", "latencyRepeats", "threads", "device");
            var b = r.Object("budget");
            b.Only("candidates", "minutes");
            var m = r.Object("mutation");
            m.Only("fairIdea", "pareto", "llm");
            var l = r.Object("llm", optional: true);
            l.Only("mode", "model", "maxAttempts", "timeoutSeconds", "contextLength", "stallTimeoutSeconds", "recorded", "writeOperators");
            var e = r.Object("evaluation", optional: true);
            e.Only("jobs", "isolated", "timeoutSeconds", "memoryMb", "warmWorkers");
            var x = r.Object("executor", optional: true);
            x.Only("kind", "partition", "account", "qos", "timeMinutes", "memoryMb", "cpusPerTask", "gpus", "sbatchOptions", "maxJobsInFlight", "jobDirectory", "pollSeconds");
            var executor = r.Has("executor")
                ? new ExecutorOptions(x.Text("kind"), x.OptionalText("partition"), x.OptionalText("account"), x.OptionalText("qos"), x.OptionalInt("timeMinutes"), x.OptionalInt("memoryMb"),
                    x.OptionalInt("cpusPerTask"), x.OptionalText("gpus"), x.Has("sbatchOptions") ? x.Texts("sbatchOptions", []) : null, x.OptionalInt("maxJobsInFlight"),
                    x.OptionalText("jobDirectory"), x.OptionalNumber("pollSeconds"))
                : null;
            var ladder = r.Has("ladder") ? ReadLadder(r.Object("ladder")) : null;
            var space = r.Has("space") ? ReadSpace(r.Object("space")) : null;
            NoiseOptions? noise = null;
            if (r.Has("noise"))
            {
                var n = r.Object("noise");
                n.Only("architectures", "seeds");
                noise = new NoiseOptions(n.Int("architectures"), n.Int("seeds"));
            }

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
                    l.OptionalNumber("stallTimeoutSeconds"), l.OptionalText("recorded"), l.Flag("writeOperators", false)),
                new EvaluationOptions(e.Int("jobs", 1), e.Flag("isolated", true), e.Number("timeoutSeconds", 3600), e.Int("memoryMb", 8192), e.Flag("warmWorkers", true)),
                r.OptionalText("profile"),
                ladder,
                noise,
                executor,
                space);
            return Validated(experiment, source);
        }
    }

    private static SpaceOptions ReadSpace(Fields s)
    {
        s.Only("seedBudgetFractions", "randomEdits", "baselinesFromSeeds", "searchedParameters");
        EditRange? edits = null;
        if (s.Has("randomEdits"))
        {
            var e = s.Object("randomEdits");
            e.Only("min", "max");
            edits = new EditRange(e.Int("min"), e.Int("max"));
        }

        return new SpaceOptions(s.Has("seedBudgetFractions") ? s.Numbers("seedBudgetFractions") : null, edits, s.Flag("baselinesFromSeeds", false),
            s.Has("searchedParameters") ? s.NumberLists("searchedParameters") : null);
    }

    private static Ladder ReadLadder(Fields l)
    {
        l.Only("rungs", "promote");
        var rungs = l.Objects("rungs").Select(x =>
        {
            x.Only("epochs", "trainSubset");
            return new Rung(x.Int("epochs"), x.OptionalInt("trainSubset"));
        }).ToList();
        return new Ladder(rungs, l.Number("promote"));
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

        public bool Has(string name) => Get(name) is not null;

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

        public IReadOnlyList<Fields> Objects(string name) => Get(name) switch
        {
            { ValueKind: JsonValueKind.Array } v => [.. v.EnumerateArray().Select((x, i) => x.ValueKind == JsonValueKind.Object ? new Fields(x.Clone(), source, $"{path}{name}[{i}].") : throw Error($"{name}[{i}]", "must be an object"))],
            null => throw Error(name, "missing"),
            _ => throw Error(name, "must be an array of objects"),
        };

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

        public string? OptionalText(string name) => Get(name) is null ? null : Text(name);

        public IReadOnlyList<string> Texts(string name, IReadOnlyList<string> fallback) => Get(name) switch
        {
            { ValueKind: JsonValueKind.Array } v => v.EnumerateArray().Select((x, i) => x.ValueKind == JsonValueKind.String ? x.GetString()! : throw Error($"{name}[{i}]", "must be a string")).ToList(),
            null => fallback,
            _ => throw Error(name, "must be an array of strings"),
        };

        public IReadOnlyList<double> Numbers(string name) => Get(name) switch
        {
            { ValueKind: JsonValueKind.Array } v => v.EnumerateArray().Select((x, i) => x.ValueKind == JsonValueKind.Number ? x.GetDouble() : throw Error($"{name}[{i}]", "must be a number")).ToList(),
            null => throw Error(name, "missing"),
            _ => throw Error(name, "must be an array of numbers"),
        };

        /// <summary>An object whose every field is an array of numbers (a name to its values), names in ordinal order.</summary>
        public IReadOnlyDictionary<string, IReadOnlyList<double>> NumberLists(string name)
        {
            if (Get(name) is not { ValueKind: JsonValueKind.Object } v)
            {
                throw Error(name, "must be an object of named arrays of numbers, e.g. {\"kernel\": [3, 5, 7]}");
            }

            var inner = new Fields(v, source, $"{path}{name}.");
            var result = new SortedDictionary<string, IReadOnlyList<double>>(StringComparer.Ordinal);
            foreach (var property in v.EnumerateObject())
            {
                result[property.Name] = inner.Numbers(property.Name);
            }

            return result;
        }

        public IReadOnlyList<int> Ints(string name) => Get(name) switch
        {
            { ValueKind: JsonValueKind.Array } v => v.EnumerateArray().Select((x, i) => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out var n) ? n : throw Error($"{name}[{i}]", "must be a whole number")).ToList(),
            null => throw Error(name, "missing"),
            _ => throw Error(name, "must be an array of whole numbers"),
        };
    }
}
