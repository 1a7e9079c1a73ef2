// leaky_document: documents whose pages keep a strong `doc` back-pointer, one document per page
// count from 1 to DOCUMENTS, so the same bug comes in cycles of several sizes; and editors whose
// buffer points back at them while the buffer's cursor points back at the buffer: two cycles
// through one buffer, which only two Weak fields break. The agent groups each bug into one
// finding, whatever its size, and names the fields to make Weak.
// Usage: leaky_document [DOCUMENTS] [EDITORS]   (defaults 4 and 2)
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cyclegc/cyclegc.h"

struct Page;
struct Document {
  std::string name;
  std::vector<cyclegc::Ref<Page>> pages;
  explicit Document(std::string n) : name(std::move(n)) {}
  void trace(cyclegc::Visitor& v) const { v("pages", pages); }
  std::string repr() const { return "Document(" + name + ")"; }
};
struct Page {
  int number = 0;
  cyclegc::Ref<Document> doc;  // the leak: should have been a Weak
  void trace(cyclegc::Visitor& v) const { v("doc", doc); }
  std::string repr() const { return "Page(" + std::to_string(number) + ")"; }
};

void open_document(int pages) {
  auto doc = cyclegc::make<Document>("doc" + std::to_string(pages));  // ALLOC: document
  for (int i = 0; i < pages; ++i) {
    auto page = cyclegc::make<Page>();  // ALLOC: page
    page->number = i;
    page->doc = doc;
    doc->pages.push_back(page);
  }
}

struct Buffer;
struct Editor {
  cyclegc::Ref<Buffer> buffer;
  void trace(cyclegc::Visitor& v) const { v("buffer", buffer); }
  std::string repr() const { return "Editor"; }
};
struct Cursor {
  cyclegc::Ref<Buffer> buffer;  // back to its buffer
  void trace(cyclegc::Visitor& v) const { v("buffer", buffer); }
  std::string repr() const { return "Cursor"; }
};
struct Buffer {
  cyclegc::Ref<Editor> editor;  // back to its editor
  cyclegc::Ref<Cursor> cursor;
  void trace(cyclegc::Visitor& v) const {
    v("editor", editor);
    v("cursor", cursor);
  }
  std::string repr() const { return "Buffer"; }
};

void open_editor() {
  auto editor = cyclegc::make<Editor>();
  editor->buffer = cyclegc::make<Buffer>();
  editor->buffer->editor = editor;
  editor->buffer->cursor = cyclegc::make<Cursor>();
  editor->buffer->cursor->buffer = editor->buffer;
}

int main(int argc, char** argv) {
  const int documents = argc > 1 ? std::atoi(argv[1]) : 4;
  const int editors = argc > 2 ? std::atoi(argv[2]) : 2;
  for (int pages = 1; pages <= documents; ++pages) open_document(pages);
  for (int i = 0; i < editors; ++i) open_editor();
  std::cout << "opened " << documents << " documents and " << editors << " editors\n";
}
