using System.Security.Cryptography;
using System.Text;

namespace FairNad.Architecture;

/// <summary>
/// LLM-written operators, content-addressed: a spec's <c>custom</c> node names its operator by <c>sha256:&lt;hex&gt;</c>
/// of the source's UTF-8 bytes, so the source is part of the candidate's canonical JSON and id (same source -> same id
/// -> same commit). Plain data; compiling and running a source is the evaluation layer's business, in a worker.
/// </summary>
public static class OperatorSources
{
    /// <summary>The operator name of a node that applies an LLM-written operator.</summary>
    public const string OperatorName = "custom";

    public const string Prefix = "sha256:";

    /// <summary>The folder of a run (and of a worker's job) that holds operator sources, and of a candidate's commit.</summary>
    public const string Folder = "operators";

    /// <summary>The reference a spec uses for <paramref name="source"/>.</summary>
    public static string Hash(string source) => Prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(source)));

    public static bool IsReference(string text) =>
        text.Length == Prefix.Length + 64 && text.StartsWith(Prefix, StringComparison.Ordinal) && text[Prefix.Length..].All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    /// <summary>The file a source is stored under: its hex digest and ".cs".</summary>
    public static string FileName(string reference) =>
        IsReference(reference) ? reference[Prefix.Length..] + ".cs" : throw new ArgumentException($"'{reference}' is not an operator reference");

    /// <summary>The spatial size the contract promises: ceil(size / stride).</summary>
    public static int Strided(int size, int stride) => (size + stride - 1) / stride;

    /// <summary>The operator references a spec's blocks (the shared one and every stage's own) use, sorted.</summary>
    public static IReadOnlyList<string> References(ArchitectureSpec spec) =>
        spec.AllBlocks.SelectMany(b => b.Nodes).Where(n => n.Op == OperatorName && n.Params.TryGetValue("source", out var v) && v.Text is not null)
            .Select(n => n.Params["source"].Text!).Distinct().Order(StringComparer.Ordinal).ToList();
}

/// <summary>
/// A folder of operator sources named by their hash (<c>&lt;hex&gt;.cs</c>): a run's <c>operators/</c>. Writing is
/// idempotent (same source, same file), and reading checks the hash, so a file edited by hand is refused, not used.
/// </summary>
public sealed class OperatorStore(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>Stores <paramref name="source"/> (no-op when present) and returns its reference.</summary>
    public string Put(string source)
    {
        var reference = OperatorSources.Hash(source);
        var path = Path.Combine(Directory, OperatorSources.FileName(reference));
        if (!File.Exists(path))
        {
            System.IO.Directory.CreateDirectory(Directory);
            var temporary = path + ".tmp";
            File.WriteAllText(temporary, source, new UTF8Encoding(false));
            File.Move(temporary, path, overwrite: true);
        }

        return reference;
    }

    public bool Contains(string reference) => OperatorSources.IsReference(reference) && File.Exists(Path.Combine(Directory, OperatorSources.FileName(reference)));

    /// <summary>The source of <paramref name="reference"/>.</summary>
    /// <exception cref="InvalidDataException">it is missing, or the file's content does not hash to its name.</exception>
    public string Get(string reference)
    {
        var path = Path.Combine(Directory, OperatorSources.FileName(reference));
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{path}: operator {reference} is not in the store");
        }

        var source = File.ReadAllText(path, Encoding.UTF8);
        return OperatorSources.Hash(source) == reference
            ? source
            : throw new InvalidDataException($"{path}: its content hashes to {OperatorSources.Hash(source)}, not {reference}; the file was changed");
    }

    /// <summary>The sources a spec needs, by reference.</summary>
    public IReadOnlyDictionary<string, string> For(ArchitectureSpec spec) =>
        OperatorSources.References(spec).ToDictionary(r => r, Get, StringComparer.Ordinal);
}
