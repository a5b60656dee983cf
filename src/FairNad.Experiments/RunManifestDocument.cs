using System.Text.Json;
using System.Text.Json.Nodes;

namespace FairNad.Experiments;

/// <summary>
/// results/&lt;run&gt;/manifest.json: what a number from this run depends on (harness commit, SDK, TorchSharp and libtorch,
/// threads, dataset checksums, LLM model and digest, seed, experiment hash, effective mutation mix). Written when the run
/// starts; a resume checks that the experiment and seed are unchanged and notes each later harness commit.
/// </summary>
public sealed class RunManifestDocument(JsonObject content)
{
    public JsonObject Content { get; } = content;

    private string? Text(string name) => Content[name]?.GetValue<string>();

    /// <exception cref="ExperimentException">a fresh run would overwrite a recorded one, or a resumed run's experiment changed.</exception>
    public void WriteOrCheck(string path, bool resume)
    {
        var run = Text("run");
        if (!resume)
        {
            if (File.Exists(path))
            {
                throw new ExperimentException($"{Path.GetDirectoryName(path)} already holds run '{run}'; continue it with --resume {run}, or name a new run with --run");
            }

            JsonFiles.WriteAtomically(path, Content);
            return;
        }

        if (!File.Exists(path))
        {
            throw new ExperimentException($"{path} does not exist: there is no run '{run}' to resume");
        }

        JsonObject recorded;
        try
        {
            recorded = JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new ExperimentException($"{path}: empty manifest");
        }
        catch (JsonException e)
        {
            throw new ExperimentException($"{path}: not a run manifest ({e.Message})");
        }

        foreach (var field in new[] { "run", "seed", "strategy" })
        {
            if (recorded[field]?.ToJsonString() != Content[field]?.ToJsonString())
            {
                throw new ExperimentException($"{path}: {field} was {recorded[field]?.ToJsonString()} but is now {Content[field]?.ToJsonString()}; a resumed run must keep it");
            }
        }

        var then = recorded["experiment"]?["sha256"]?.GetValue<string>();
        var now = Content["experiment"]?["sha256"]?.GetValue<string>();
        if (then != now)
        {
            throw new ExperimentException($"{path}: the experiment changed since the run started (sha256 {then} then, {now} now); resume with the same experiment file and options");
        }

        var sessions = recorded["sessions"]?.AsArray() ?? [];
        var harness = Content["harness"]!.DeepClone();
        if (sessions.Count == 0 || sessions[^1]?.ToJsonString() != harness.ToJsonString())
        {
            sessions.Add(harness);
            recorded["sessions"] = sessions.DeepClone();
            JsonFiles.WriteAtomically(path, recorded);
        }
    }
}

/// <summary>The run folder's JSON documents: indented, "\n" newlines, written beside the target and renamed so a reader never sees half a file.</summary>
public static class JsonFiles
{
    public static void WriteAtomically(string path, JsonNode content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, content.ToJsonString(new JsonSerializerOptions { WriteIndented = true }).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
        File.Move(temporary, path, overwrite: true);
    }
}
