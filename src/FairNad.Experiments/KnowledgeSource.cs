using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FairNad.Knowledge;

namespace FairNad.Experiments;

/// <summary>
/// The attribute tree a run searches with and where it came from, so the manifest can say which tree a result depends
/// on: a file (<see cref="Path"/> as the user gave it, e.g. the output of `./build.sh Extract`) or, when none is given,
/// the curated tree compiled in (<see cref="Path"/> null). <see cref="Sha256"/> is the SHA-256 of the file's bytes
/// (what `sha256sum` prints, "sha256:"-prefixed), taken when the tree is read, before anything is added to it in memory.
/// A resume and a reproduction take the recorded tree and refuse a different one, naming both hashes.
/// </summary>
public sealed record KnowledgeSource(AttributeTree Tree, string? Path, string Sha256)
{
    /// <summary>What the messages call the tree: its path, or the curated tree.</summary>
    public string Name => Path ?? $"the curated tree ({AttributeTree.CuratedPath}, compiled in)";

    /// <summary>The tree at <paramref name="path"/>, or the curated tree when it is null.</summary>
    /// <exception cref="ExperimentException">the file is missing or not an attribute tree; the message names it.</exception>
    public static KnowledgeSource Load(string? path)
    {
        if (path is null)
        {
            var text = AttributeTree.DefaultText();
            return new KnowledgeSource(AttributeTree.Read(text, AttributeTree.CuratedPath + " (embedded)"), null, Hash(Encoding.UTF8.GetBytes(text)));
        }

        if (!File.Exists(path))
        {
            throw new ExperimentException($"attribute tree {path} does not exist");
        }

        var bytes = File.ReadAllBytes(path);
        try
        {
            return new KnowledgeSource(AttributeTree.Read(Encoding.UTF8.GetString(bytes), path), Portable(path), Hash(bytes));
        }
        catch (KnowledgeFormatException e)
        {
            throw new ExperimentException(e.Message);
        }
    }

    /// <summary>
    /// The tree of a recorded run (its manifest's "knowledge" entry): <paramref name="requested"/> when given, else the
    /// recorded path, else the curated tree; whichever it is must have the recorded hash. A manifest without the entry
    /// (none written yet) takes the requested or curated tree unchecked.
    /// </summary>
    /// <param name="requested">--tree of the resume, if any.</param>
    /// <param name="manifestPath">The run's manifest, named in every refusal.</param>
    /// <param name="purpose">"resume" or "reproduction", for the messages.</param>
    /// <exception cref="ExperimentException">the recorded tree file is missing, or the tree's hash differs from the recorded one.</exception>
    public static KnowledgeSource ForRecordedRun(string? requested, string manifestPath, string purpose)
    {
        JsonNode? manifest;
        try
        {
            manifest = File.Exists(manifestPath) ? JsonNode.Parse(File.ReadAllText(manifestPath)) : null;
        }
        catch (JsonException e)
        {
            throw new ExperimentException($"{manifestPath}: not a run manifest ({e.Message})");
        }

        if (manifest is not JsonObject root || root["knowledge"] is not JsonObject recorded || !recorded.TryGetPropertyValue("sha256", out var hashNode) || hashNode is not JsonValue hashValue
            || !hashValue.TryGetValue<string>(out var hash))
        {
            return Load(requested);
        }

        var recordedPath = recorded["path"] is JsonValue pathValue && pathValue.TryGetValue<string>(out var given) ? given : null;
        var recordedName = recordedPath ?? $"the curated tree ({AttributeTree.CuratedPath}, compiled in)";
        if (requested is null && recordedPath is not null && !File.Exists(recordedPath))
        {
            throw new ExperimentException(
                $"{manifestPath}: the run searched with attribute tree {recordedPath} ({hash}), which does not exist here (paths are relative to the folder the search ran in); " +
                (purpose == "resume" ? "resume from that folder, or pass --tree with a copy of that file" : $"run the {purpose} from that folder"));
        }

        var source = Load(requested ?? recordedPath);
        if (source.Sha256 != hash)
        {
            throw new ExperimentException(
                $"{manifestPath}: the run searched with attribute tree {recordedName} ({hash}), but {source.Name} is {source.Sha256} now; " +
                $"a {purpose} must use the same tree{(purpose == "resume" ? ": pass --tree with a file of that hash" : string.Empty)}");
        }

        return source;
    }

    /// <summary>The manifest's "knowledge" entry.</summary>
    public JsonObject ManifestEntry() => new()
    {
        ["path"] = Path,
        ["sha256"] = Sha256,
        ["provenance"] = Tree.Provenance.Method,
        ["attributes"] = Tree.Attributes.Count(),
        ["realised"] = Tree.Attributes.Count(a => a.Attribute.Realisations.Count > 0),
    };

    /// <summary>
    /// The path as recorded: relative to the current folder when the file lies below it (the build passes absolute
    /// paths; a clone elsewhere still finds knowledge/extracted/...), else as given.
    /// </summary>
    private static string Portable(string path)
    {
        var relative = System.IO.Path.GetRelativePath(Directory.GetCurrentDirectory(), System.IO.Path.GetFullPath(path));
        return System.IO.Path.IsPathRooted(relative) || relative.StartsWith("..", StringComparison.Ordinal) ? path : relative.Replace('\\', '/');
    }

    private static string Hash(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
}
