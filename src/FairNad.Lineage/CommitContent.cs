using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LibGit2Sharp;

namespace FairNad.Lineage;

/// <summary>
/// What a lineage commit holds, computed in memory: its message, its author (who is also its committer) and its files
/// (path, text; every file is a plain 100644 blob). <see cref="LineageStore"/> writes commits from it and verifies
/// commits against it, so the format lives in one place.
/// </summary>
internal sealed record CommitContent(string Message, Signature Signature, IReadOnlyList<KeyValuePair<string, string>> Files)
{
    /// <summary>The id git gives this commit with <paramref name="parents"/>, computed without writing anything.</summary>
    public string ObjectId(IEnumerable<string> parents) => GitObjects.CommitId(GitObjects.TreeId(Files), parents, Signature, Signature, Message);
}

/// <summary>
/// Git object ids (SHA-1) computed in memory, as <c>git hash-object</c> would without <c>-w</c>: verification must not
/// write into the repository it checks, and libgit2's object database only hashes what it stores.
/// </summary>
internal static class GitObjects
{
    private const string FileMode = "100644";
    private const string TreeMode = "40000";

    public static string BlobId(string text) => Hash("blob", Utf8(text));

    /// <summary>The id of the tree holding <paramref name="files"/> (slash-separated paths), with subtrees as git nests them.</summary>
    public static string TreeId(IEnumerable<KeyValuePair<string, string>> files)
    {
        var root = new Folder();
        foreach (var (path, text) in files)
        {
            var parts = path.Split('/');
            var directory = root;
            foreach (var part in parts[..^1])
            {
                if (!directory.Directories.TryGetValue(part, out var next))
                {
                    next = new Folder();
                    directory.Directories.Add(part, next);
                }

                directory = next;
            }

            directory.Files[parts[^1]] = BlobId(text);
        }

        return Hash(root);
    }

    public static string CommitId(string tree, IEnumerable<string> parents, Signature author, Signature committer, string message)
    {
        var text = new StringBuilder();
        text.Append("tree ").Append(tree).Append('\n');
        foreach (var parent in parents)
        {
            text.Append("parent ").Append(parent).Append('\n');
        }

        text.Append("author ").Append(Format(author)).Append('\n');
        text.Append("committer ").Append(Format(committer)).Append('\n');
        text.Append('\n').Append(message);
        return Hash("commit", Utf8(text.ToString()));
    }

    /// <summary>A signature as a commit header writes it: <c>name &lt;email&gt; seconds +hhmm</c>.</summary>
    public static string Format(Signature signature)
    {
        var offset = signature.When.Offset;
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        var minutes = (int)Math.Abs(offset.TotalMinutes);
        return string.Create(CultureInfo.InvariantCulture,
            $"{signature.Name} <{signature.Email}> {signature.When.ToUnixTimeSeconds()} {sign}{minutes / 60:D2}{minutes % 60:D2}");
    }

    private static string Hash(Folder directory)
    {
        var entries = directory.Files.Select(f => (Mode: FileMode, Name: f.Key, Id: f.Value, SortKey: f.Key))
            .Concat(directory.Directories.Select(d => (Mode: TreeMode, Name: d.Key, Id: Hash(d.Value), SortKey: d.Key + "/")))
            .OrderBy(e => e.SortKey, StringComparer.Ordinal);
        using var body = new MemoryStream();
        foreach (var entry in entries)
        {
            body.Write(Utf8($"{entry.Mode} {entry.Name}\0"));
            body.Write(Convert.FromHexString(entry.Id));
        }

        return Hash("tree", body.ToArray());
    }

    private static string Hash(string kind, byte[] body)
    {
        var header = Utf8(string.Create(CultureInfo.InvariantCulture, $"{kind} {body.Length}\0"));
#pragma warning disable CA5350 // Git names objects by SHA-1; this computes those names, it protects nothing.
        return Convert.ToHexStringLower(SHA1.HashData([.. header, .. body]));
#pragma warning restore CA5350
    }

    private static byte[] Utf8(string text) => new UTF8Encoding(false).GetBytes(text);

    private sealed class Folder
    {
        public Dictionary<string, string> Files { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, Folder> Directories { get; } = new(StringComparer.Ordinal);
    }
}
