"""Remote files: list (all pages, in the background), quota use, details, delete with confirmation."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Static

from bailian_tui.tui.keymap import KEYMAP
from bailian_tui.tui.widgets.tables import Table, selected_key
from bailian_tui.tui.failures import FAILED
from bailian_tui.tui.format import ago, cells, escape, size_text
from bailian_tui.tui.screens.base import BaseScreen
from bailian_tui.tui.screens.confirm import ConfirmScreen

MAX_FILES, MAX_BYTES = 100, 5 * 1024**3  # GUIDE-OLD limits; newer docs allow more (reference §2.2)


class FilesScreen(BaseScreen):
    TITLE_TEXT = "Files"
    BINDINGS = KEYMAP["files"]

    class FilesRefreshed(Message):
        def __init__(self, files: list) -> None:
            super().__init__()
            self.files = files

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, object] = {}
        self.several = False  # more than one profile: a provider column

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="files-summary"):
            yield Static("loading…", id="files-quota")
        yield Table(id="files", cursor_type="row", zebra_stripes=True)
        yield Static("", id="files-detail")

    def on_mount(self) -> None:
        columns = ["name", "size", "file_id", "purpose", "uploaded"]
        self.several = self.app.several_profiles()
        if self.several:
            columns.append("provider")  # files of every profile: where each one lives
        self.query_one("#files", DataTable).add_columns(*columns)
        self._refresh_files()

    @work(exclusive=True, group="files", exit_on_error=False)
    async def _refresh_files(self) -> None:
        quota = self.query_one("#files-quota", Static)
        files = await self.app.run_core(lambda service: service.platform.all_files(),
                                        show=lambda err: quota.update(Text(err.human(), style="red")))
        if files is not FAILED:
            self.post_message(self.FilesRefreshed(files))

    @on(FilesRefreshed)
    def _show_files(self, message: FilesRefreshed) -> None:
        self.files = {f.file_id: f for f in message.files}
        used = sum(f.size or 0 for f in message.files)
        self.query_one("#files-quota", Static).update(
            f"{len(message.files)} / {MAX_FILES} files · {used / 1024**3:.2f} GB / {MAX_BYTES // 1024**3} GB used")
        table = self.query_one("#files", DataTable)
        table.clear()
        for f in self.files.values():  # by id: a repeated id never reaches the table twice
            row = [f.name, size_text(f.size), f.file_id, f.purpose or "", ago(f.created_at)]
            if self.several:
                row.append(self.app.profile_label(f.file_id))
            table.add_row(*cells(*row), key=f.file_id)

    @on(DataTable.RowHighlighted, "#files")
    def _detail(self, event: DataTable.RowHighlighted) -> None:
        f = self.files.get(event.row_key.value) if event.row_key else None
        if f is not None:
            local = ""
            if self.app.service_ready:
                upload = self.app.current_service.store.upload_for_file_id(f.file_id)
                local = f" · local copy: {upload.path}" if upload else ""
            self.query_one("#files-detail", Static).update(
                Text.assemble((f.name, "bold"), f" · {f.file_id} · md5 {f.md5 or '-'} · "
                              f"{f.description or 'no description'}{local}"))

    def _selected(self):
        return self.files.get(selected_key(self.query_one("#files", DataTable)))

    def action_refresh(self) -> None:
        self._refresh_files()

    def action_copy_id(self) -> None:
        f = self._selected()
        if f is not None:
            self.app.copy_to_clipboard(f.file_id)
            self.notify(f"copied {f.file_id}")

    def action_delete(self) -> None:
        f = self._selected()
        if f is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(f)

        self.app.push_screen(ConfirmScreen(f"Delete the remote file [b]{escape(f.name)}[/] ({escape(f.file_id)})?\n"
                                           "Jobs that still reference it cannot be re-run.", "Delete"), answered)

    @work(group="files-delete", exit_on_error=False)
    async def _delete(self, f) -> None:
        async def delete(service) -> None:
            await service.platform.delete_file(f.file_id)
            if hasattr(service, "fleet"):  # the store of the profile the file lives on, by its own id
                member = service.member_for(f.file_id)
                member.service.store.forget_upload(f.file_id.removeprefix(f"{member.name}:"))
            else:
                service.store.forget_upload(f.file_id)

        if await self.app.run_core(delete) is not FAILED:
            self.notify(f"deleted {f.name}", markup=False)
        self._refresh_files()
